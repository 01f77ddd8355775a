// JwtSvid as a value: immutability, hints, and the token kept out of every printed form.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { JwtSvid } from '../../src/svid/jwt-svid.js';
import { parseAndValidateJwtSvid } from '../../src/svid/parse-jwt-svid.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';
import { AUD, NOW, NOW_S, SUB } from './jwt-helpers.js';

let token: string;
let svid: JwtSvid;

before(async () => {
  const authority = await JwtAuthority.create({ trustDomain: 'example.org' });
  token = await authority.mint({
    subject: SUB,
    audience: [AUD, 'other'],
    issuedAt: NOW,
    ttlSeconds: 600,
    extraClaims: { iss: 'issuer', nested: { list: [{ deep: 1 }] } },
  });
  svid = await parseAndValidateJwtSvid(token, authority, AUD, { now: NOW });
});

describe('JwtSvid', () => {
  it('exposes the subject, the full audience, the expiry and the claims', () => {
    assert.equal(svid.id.toString(), SUB);
    assert.deepEqual(svid.audience, [AUD, 'other']);
    assert.equal(svid.expiry.toISOString(), new Date((NOW_S + 600) * 1000).toISOString());
    assert.deepEqual(svid.claims, {
      iss: 'issuer',
      nested: { list: [{ deep: 1 }] },
      sub: SUB,
      aud: [AUD, 'other'],
      iat: NOW_S,
      exp: NOW_S + 600,
    });
    assert.equal(svid.marshal(), token);
    assert.equal(svid.token, token);
  });

  it('is immutable, claims deep-frozen, expiry a fresh Date each read', () => {
    assert.ok(Object.isFrozen(svid));
    assert.ok(Object.isFrozen(svid.audience));
    const claims = svid.claims as { nested: { list: { deep: number }[] } };
    assert.ok(Object.isFrozen(claims));
    assert.ok(Object.isFrozen(claims.nested));
    assert.ok(Object.isFrozen(claims.nested.list));
    assert.ok(Object.isFrozen(claims.nested.list[0]));
    assert.throws(() => {
      (claims.nested.list[0] as { deep: number }).deep = 2;
    }, TypeError);
    assert.throws(() => {
      (svid.audience as string[]).push('x');
    }, TypeError);
    assert.throws(() => {
      (svid as unknown as { hint: string }).hint = 'x';
    }, TypeError);
    const expiry = svid.expiry;
    expiry.setTime(0);
    assert.notEqual(svid.expiry.getTime(), 0);
  });

  it('withHint returns a new SVID with the hint and the same token', () => {
    const hinted = svid.withHint('internal');
    assert.equal(hinted.hint, 'internal');
    assert.equal(svid.hint, '');
    assert.notEqual(hinted, svid);
    assert.equal(hinted.marshal(), token);
    assert.equal(hinted.id, svid.id);
    assert.deepEqual(hinted.claims, svid.claims);
    assert.equal(svid.withHint(''), svid);
  });

  it('keeps the token out of toString, JSON and util.inspect', () => {
    const views = [
      String(svid),
      svid.toString(),
      JSON.stringify(svid),
      JSON.stringify({ nested: { svid } }),
      inspect(svid),
      inspect(svid, { depth: 10, showHidden: true }),
      inspect({ wrapper: [svid] }, { depth: 0 }),
      inspect(svid.withHint('h')),
    ];
    for (const view of views) {
      assert.ok(!view.includes(token), `token leaked: ${view}`);
      // The signature alone is a large part of the secret; it must not show either.
      assert.ok(!view.includes(token.split('.')[2]!), `signature leaked: ${view}`);
    }
    assert.match(inspect(svid), /token: '\[redacted\]'/);
    assert.match(String(svid), /^JwtSvid\(spiffe:\/\/example\.org\/web, aud=\[.*\], exp=2031-/);
    assert.deepEqual(JSON.parse(JSON.stringify(svid)) as unknown, {
      id: SUB,
      audience: [AUD, 'other'],
      expiry: new Date((NOW_S + 600) * 1000).toISOString(),
      hint: '',
      claims: JSON.parse(JSON.stringify(svid.claims)) as unknown,
    });
  });
});
