// JwtSvidValidator: the cache of validated tokens, and everything it must still check on a hit.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { JwtBundle } from '../../src/bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../../src/bundle/source.js';
import { BundleNotFoundError, InvalidArgumentError } from '../../src/errors.js';
import type { TrustDomain } from '../../src/spiffeid/index.js';
import { JwtSvidValidator } from '../../src/svid/jwt-svid-validator.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';
import { AUD, NOW, NOW_S, SUB, rejectsWith } from './jwt-helpers.js';

/** A bundle source whose bundle the test swaps, counting lookups. */
class SwappableSource implements JwtBundleSource {
  bundle: JwtBundle | undefined;
  lookups = 0;
  constructor(bundle: JwtBundle) {
    this.bundle = bundle;
  }
  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle {
    this.lookups++;
    if (!this.bundle?.trustDomain.equals(td)) {
      throw new BundleNotFoundError(td.name, 'JWT');
    }
    return this.bundle;
  }
}

let authority: JwtAuthority;

before(async () => {
  authority = await JwtAuthority.create({ trustDomain: 'example.org' });
});

function mint(
  options: { audience?: string | string[]; ttlSeconds?: number; extra?: string } = {},
): Promise<string> {
  return authority.mint({
    subject: SUB,
    audience: options.audience ?? AUD,
    issuedAt: NOW,
    ttlSeconds: options.ttlSeconds ?? 300,
    extraClaims: { jti: options.extra ?? 'j' },
  });
}

describe('JwtSvidValidator', () => {
  it('validates like parseAndValidateJwtSvid and serves the second call from the cache', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    const token = await mint();
    const first = await validator.validate(token);
    assert.equal(first.id.toString(), SUB);
    assert.equal(validator.size, 1);
    const second = await validator.validate(token);
    assert.equal(second, first, 'a hit returns the remembered SVID');
    // Control: without a cache every call builds a new SVID.
    const uncached = new JwtSvidValidator({
      bundleSource: authority,
      audience: AUD,
      now: NOW,
      maxEntries: 0,
    });
    const a = await uncached.validate(token);
    const b = await uncached.validate(token);
    assert.notEqual(a, b);
    assert.equal(uncached.size, 0);
  });

  it('finds a hit for an equal token held in a different string', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    const token = await mint();
    const first = await validator.validate(token);
    const copy = Buffer.from(token, 'latin1').toString('latin1');
    assert.equal(await validator.validate(copy), first);
  });

  it('rejects a remembered token once it expires, and forgets it', async () => {
    let now = NOW;
    const validator = new JwtSvidValidator({
      bundleSource: authority,
      audience: AUD,
      now: () => now,
      clockTolerance: 5,
    });
    const token = await mint({ ttlSeconds: 60 });
    const svid = await validator.validate(token);
    now = new Date((NOW_S + 64) * 1000);
    assert.equal(await validator.validate(token), svid, 'still a hit inside the tolerance');
    now = new Date((NOW_S + 65) * 1000);
    await rejectsWith(validator.validate(token), 'expired', token);
    assert.equal(validator.size, 0);
  });

  it('rejects a remembered token when the clock goes back before nbf or iat', async () => {
    let now = NOW;
    const validator = new JwtSvidValidator({
      bundleSource: authority,
      audience: AUD,
      now: () => now,
      clockTolerance: 0,
    });
    const token = await mint();
    await validator.validate(token);
    now = new Date((NOW_S - 1) * 1000);
    await rejectsWith(validator.validate(token), 'issued-in-future', token);
  });

  it('checks the audience on every hit', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    const token = await mint({ audience: [AUD, 'spiffe://example.org/billing'] });
    const svid = await validator.validate(token);
    await rejectsWith(
      validator.validate(token, { audience: 'spiffe://example.org/admin' }),
      'audience',
      token,
    );
    assert.equal(
      validator.size,
      1,
      'an audience mismatch does not evict a token that is valid for others',
    );
    assert.equal(
      await validator.validate(token, { audience: 'spiffe://example.org/billing' }),
      svid,
    );
    assert.equal(await validator.validate(token), svid);
  });

  it('honours requireAllAudiences on hits', async () => {
    const validator = new JwtSvidValidator({
      bundleSource: authority,
      audience: ['a', 'b'],
      requireAllAudiences: true,
      now: NOW,
    });
    const token = await mint({ audience: ['a', 'b'] });
    await validator.validate(token);
    await rejectsWith(validator.validate(token, { audience: ['a', 'c'] }), 'audience', token);
    await validator.validate(token, { audience: ['b', 'a'] });
  });

  it('drops an entry when its key is rotated out of the bundle', async () => {
    const rotating = await JwtAuthority.create({ trustDomain: 'example.org' });
    const validator = new JwtSvidValidator({ bundleSource: rotating, audience: AUD, now: NOW });
    const token = await rotating.mint({ subject: SUB, audience: AUD, issuedAt: NOW });
    const svid = await validator.validate(token);
    await rotating.rotate();
    assert.equal(await validator.validate(token), svid, 'the old key is still in the new bundle');
    rotating.retireOldKeys();
    await rejectsWith(validator.validate(token), 'unknown-key', token);
    assert.equal(validator.size, 0);
  });

  it('keeps an entry when the bundle is replaced by an equal one (key compared by value)', async () => {
    const source = new SwappableSource(authority.jwtBundle());
    const validator = new JwtSvidValidator({ bundleSource: source, audience: AUD, now: NOW });
    const token = await mint();
    const svid = await validator.validate(token);
    source.bundle = JwtBundle.parse(authority.trustDomain, authority.jwtBundle().marshal());
    assert.notEqual(source.bundle, authority.jwtBundle());
    assert.equal(await validator.validate(token), svid);
  });

  it('drops an entry when another key takes over its kid', async () => {
    const source = new SwappableSource(authority.jwtBundle());
    const validator = new JwtSvidValidator({ bundleSource: source, audience: AUD, now: NOW });
    const token = await mint();
    await validator.validate(token);
    const impostor = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    source.bundle = authority.jwtBundle().withAuthority(authority.currentKid, impostor);
    await rejectsWith(validator.validate(token), 'signature', token);
    assert.equal(validator.size, 0);
  });

  it('drops an entry when the trust domain loses its bundle', async () => {
    const source = new SwappableSource(authority.jwtBundle());
    const validator = new JwtSvidValidator({ bundleSource: source, audience: AUD, now: NOW });
    const token = await mint();
    await validator.validate(token);
    source.bundle = undefined;
    await rejectsWith(validator.validate(token), 'no-bundle', token);
    assert.equal(validator.size, 0);
  });

  it('consults the bundle source on every hit', async () => {
    const source = new SwappableSource(authority.jwtBundle());
    const validator = new JwtSvidValidator({ bundleSource: source, audience: AUD, now: NOW });
    const token = await mint();
    await validator.validate(token);
    const before = source.lookups;
    await validator.validate(token);
    await validator.validate(token);
    assert.equal(source.lookups, before + 2);
  });

  it('remembers kid-less tokens by the key that verified them', async () => {
    const rotating = await JwtAuthority.create({ trustDomain: 'example.org' });
    await rotating.rotate();
    const validator = new JwtSvidValidator({ bundleSource: rotating, audience: AUD, now: NOW });
    const token = await rotating.mint({
      subject: SUB,
      audience: AUD,
      issuedAt: NOW,
      omitKid: true,
    });
    const svid = await validator.validate(token);
    assert.equal(await validator.validate(token), svid);
    await rotating.rotate();
    rotating.retireOldKeys(); // the key that signed it is gone; the token is kid-less
    await rejectsWith(validator.validate(token), 'signature', token);
    assert.equal(validator.size, 0);
  });

  it('never remembers a failed token', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    const bad = await authority.mintUnchecked({
      subject: SUB,
      audience: AUD,
      issuedAt: NOW,
      tamperSignature: true,
    });
    await rejectsWith(validator.validate(bad), 'signature', bad);
    await rejectsWith(validator.validate(bad), 'signature', bad);
    assert.equal(validator.size, 0);
    const wrongAudience = await mint({ audience: 'other' });
    await rejectsWith(validator.validate(wrongAudience), 'audience', wrongAudience);
    assert.equal(validator.size, 0);
  });

  it('is bounded: evicts the least recently used entry beyond maxEntries', async () => {
    const validator = new JwtSvidValidator({
      bundleSource: authority,
      audience: AUD,
      now: NOW,
      maxEntries: 2,
    });
    const [t1, t2, t3] = await Promise.all([
      mint({ extra: '1' }),
      mint({ extra: '2' }),
      mint({ extra: '3' }),
    ]);
    const s1 = await validator.validate(t1);
    const s2 = await validator.validate(t2);
    assert.equal(await validator.validate(t1), s1); // t1 is now the most recently used
    await validator.validate(t3); // evicts t2
    assert.equal(validator.size, 2);
    assert.equal(await validator.validate(t1), s1, 't1 survived');
    const again = await validator.validate(t2);
    assert.notEqual(again, s2, 't2 was evicted and validated afresh');
    assert.equal(validator.size, 2);
  });

  it('clear() forgets everything', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    const token = await mint();
    const svid = await validator.validate(token);
    validator.clear();
    assert.equal(validator.size, 0);
    assert.notEqual(await validator.validate(token), svid);
  });

  it('rejects non-strings and junk without caching them', async () => {
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD, now: NOW });
    await rejectsWith(validator.validate(undefined as unknown as string), 'malformed', '');
    await rejectsWith(validator.validate('a.b.c'), 'malformed', 'a.b.c');
    assert.equal(validator.size, 0);
  });

  it('treats bad options as programming errors', async () => {
    assert.throws(
      () => new JwtSvidValidator({ bundleSource: authority, audience: '' }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new JwtSvidValidator({ bundleSource: authority, audience: [] }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new JwtSvidValidator({ bundleSource: authority, audience: AUD, maxEntries: -1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new JwtSvidValidator({ bundleSource: authority, audience: AUD, maxEntries: 1.5 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new JwtSvidValidator({ bundleSource: authority, audience: AUD, clockTolerance: -1 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new JwtSvidValidator({ bundleSource: {} as JwtBundleSource, audience: AUD }),
      InvalidArgumentError,
    );
    const validator = new JwtSvidValidator({ bundleSource: authority, audience: AUD });
    await assert.rejects(validator.validate('x', { audience: [] }), InvalidArgumentError);
  });
});
