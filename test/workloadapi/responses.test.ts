// The response rules, checked on hand-built protobuf messages (no server): each rule rejected,
// beside a positive control built the same way.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { BundleNotFoundError, InvalidWorkloadApiResponseError } from '../../src/errors.js';
import { SpiffeId } from '../../src/spiffeid/index.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import type * as gen from '../../src/workloadapi/gen/workload.js';
import {
  ParseCache,
  parseJwtBundlesResponse,
  parseJwtSvidResponse,
  parseValidateJwtSvidResponse,
  parseX509BundlesResponse,
  parseX509SvidResponse,
} from '../../src/workloadapi/responses.js';
import { fixture, partnerTd, td, type Fixture } from './helpers.js';

let f: Fixture;
before(async () => {
  f = await fixture();
});

function der(parts: readonly { raw: Buffer }[]): Buffer {
  return Buffer.concat(parts.map((c) => c.raw));
}

function entry(svid: X509Svid, changes: Partial<gen.X509SVID> = {}): gen.X509SVID {
  const raw = svid.marshalRaw();
  return {
    spiffeId: svid.id.toString(),
    x509Svid: Buffer.from(raw.certificates),
    x509SvidKey: Buffer.from(raw.privateKey),
    bundle: der(f.ca.x509Authorities),
    hint: '',
    ...changes,
  };
}

function x509Response(changes: Partial<gen.X509SVIDResponse> = {}): gen.X509SVIDResponse {
  return {
    svids: [entry(f.web1)],
    crl: [],
    federatedBundles: { 'spiffe://partner.org': der(f.partnerCa.x509Authorities) },
    ...changes,
  };
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidWorkloadApiResponseError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('FetchX509SVID responses', () => {
  it('positive control: SVID, own bundle and federated bundle', () => {
    const context = parseX509SvidResponse(x509Response());
    assert.equal(context.defaultSvid.id.toString(), 'spiffe://example.org/web');
    assert.equal(context.bundles.size, 2);
    assert.ok(context.getX509BundleForTrustDomain(partnerTd).x509Authorities.length > 0);
    assert.ok(Object.isFrozen(context) && Object.isFrozen(context.svids));
  });

  it('rejects an empty svids list', () => {
    rejects(() => parseX509SvidResponse(x509Response({ svids: [] })), /svids is empty/);
  });

  for (const field of ['spiffeId', 'x509Svid', 'x509SvidKey', 'bundle'] as const) {
    it(`rejects an empty mandatory ${field}`, () => {
      const empty = field === 'spiffeId' ? '' : Buffer.alloc(0);
      rejects(
        () => parseX509SvidResponse(x509Response({ svids: [entry(f.web1, { [field]: empty })] })),
        /svids\[0\]\.\w+ is empty, but it is a mandatory field/,
      );
    });
  }

  it('rejects a malformed entry even when it is not the first', () => {
    rejects(
      () =>
        parseX509SvidResponse(
          x509Response({ svids: [entry(f.web1), entry(f.db, { x509SvidKey: Buffer.alloc(0) })] }),
        ),
      /svids\[1\]\.x509_svid_key is empty/,
    );
  });

  it('rejects a spiffe_id that is not the certificate’s SPIFFE ID (go-spiffe does not compare)', () => {
    rejects(
      () =>
        parseX509SvidResponse(
          x509Response({ svids: [entry(f.web1, { spiffeId: 'spiffe://example.org/db' })] }),
        ),
      /is not the SVID's SPIFFE ID/,
    );
  });

  it('rejects an invalid spiffe_id', () => {
    rejects(
      () => parseX509SvidResponse(x509Response({ svids: [entry(f.web1, { spiffeId: 'web' })] })),
      /svids\[0\]\.spiffe_id/,
    );
  });

  it('rejects a key that does not match the certificate, and never prints the key', () => {
    const other = f.db.marshalRaw();
    const bad = entry(f.web1, { x509SvidKey: Buffer.from(other.privateKey) });
    assert.throws(
      () => parseX509SvidResponse(x509Response({ svids: [bad] })),
      (err: unknown) => {
        assert.ok(err instanceof InvalidWorkloadApiResponseError);
        assert.match(err.message, /svids\[0\]\.x509_svid/);
        assert.ok(
          !err.message.includes(Buffer.from(other.privateKey).toString('base64').slice(0, 40)),
        );
        return true;
      },
    );
  });

  it('rejects undecodable DER in the chain, the own bundle and a federated bundle', () => {
    const junk = Buffer.from([0x30, 0x82, 0xff, 0xff, 0x00]);
    rejects(
      () => parseX509SvidResponse(x509Response({ svids: [entry(f.web1, { x509Svid: junk })] })),
      /x509_svid/,
    );
    rejects(
      () => parseX509SvidResponse(x509Response({ svids: [entry(f.web1, { bundle: junk })] })),
      /svids\[0\]\.bundle/,
    );
    rejects(
      () =>
        parseX509SvidResponse(x509Response({ federatedBundles: { 'spiffe://partner.org': junk } })),
      /federated_bundles\["partner.org"\]/,
    );
  });

  it('federated bundle keys: trust-domain IDs or names only, no duplicates', () => {
    const partner = der(f.partnerCa.x509Authorities);
    assert.equal(
      parseX509SvidResponse(x509Response({ federatedBundles: { 'partner.org': partner } })).bundles
        .size,
      2,
    );
    rejects(
      () =>
        parseX509SvidResponse(
          x509Response({ federatedBundles: { 'spiffe://partner.org/x': partner } }),
        ),
      /not a trust domain SPIFFE ID/,
    );
    rejects(
      () =>
        parseX509SvidResponse(
          x509Response({ federatedBundles: { 'spiffe://Partner.org': partner } }),
        ),
      /federated_bundles key/,
    );
    rejects(
      () =>
        parseX509SvidResponse(
          x509Response({
            federatedBundles: { 'spiffe://partner.org': partner, 'partner.org': partner },
          }),
        ),
      /two entries for trust domain "partner.org"/,
    );
  });

  it('an empty federated bundle is an empty bundle (trusts nothing), as in go-spiffe', () => {
    const context = parseX509SvidResponse(
      x509Response({ federatedBundles: { 'spiffe://partner.org': Buffer.alloc(0) } }),
    );
    assert.equal(context.getX509BundleForTrustDomain(partnerTd).isEmpty(), true);
  });

  it('no federated bundles: only the own trust domain is trusted', () => {
    const context = parseX509SvidResponse(x509Response({ federatedBundles: {} }));
    assert.throws(() => context.getX509BundleForTrustDomain(partnerTd), BundleNotFoundError);
    assert.ok(context.getX509BundleForTrustDomain(td));
  });

  it('a federated entry for the own trust domain does not replace the own bundle', () => {
    const context = parseX509SvidResponse(
      x509Response({
        federatedBundles: { 'spiffe://example.org': der(f.partnerCa.x509Authorities) },
      }),
    );
    const own = context.getX509BundleForTrustDomain(td);
    assert.ok(own.hasAuthority(f.ca.x509Authorities[0]!));
    assert.ok(!own.hasAuthority(f.partnerCa.x509Authorities[0]!));
  });

  it('keeps the first of SVIDs sharing a non-empty hint; empty hints are never de-duplicated', () => {
    const context = parseX509SvidResponse(
      x509Response({
        svids: [
          entry(f.web1, { hint: 'internal' }),
          entry(f.db, { hint: 'internal' }),
          entry(f.web2, { hint: '' }),
          entry(f.db, { hint: '' }),
          entry(f.db, { hint: 'external' }),
        ],
      }),
    );
    assert.deepEqual(
      context.svids.map((s) => [s.id.path, s.hint]),
      [
        ['/web', 'internal'],
        ['/web', ''],
        ['/db', ''],
        ['/db', 'external'],
      ],
    );
    assert.equal(context.svidByHint('internal'), context.defaultSvid);
    assert.equal(context.svidByHint('external')?.id.path, '/db');
    assert.equal(context.svidByHint(''), undefined);
  });

  it('equals compares SVIDs, hints and bundles', () => {
    const a = parseX509SvidResponse(x509Response());
    assert.ok(a.equals(parseX509SvidResponse(x509Response())));
    assert.ok(!a.equals(parseX509SvidResponse(x509Response({ svids: [entry(f.web2)] }))));
    assert.ok(
      !a.equals(parseX509SvidResponse(x509Response({ svids: [entry(f.web1, { hint: 'h' })] }))),
    );
    assert.ok(!a.equals(parseX509SvidResponse(x509Response({ federatedBundles: {} }))));
  });
});

describe('FetchX509Bundles and FetchJWTBundles responses', () => {
  it('X.509: positive control, empty map rejected, bad key rejected', () => {
    const set = parseX509BundlesResponse({
      crl: [],
      bundles: { 'spiffe://example.org': der(f.ca.x509Authorities) },
    });
    assert.equal(set.size, 1);
    rejects(() => parseX509BundlesResponse({ crl: [], bundles: {} }), /bundles is empty/);
    rejects(
      () =>
        parseX509BundlesResponse({ crl: [], bundles: { 'spiffe://Not Valid': Buffer.alloc(0) } }),
      /bundles key/,
    );
  });

  it('JWT: positive control; empty map, empty value and bad JWKS rejected', () => {
    const jwks = Buffer.from(f.jwt.jwtBundle().marshal());
    assert.equal(parseJwtBundlesResponse({ bundles: { 'spiffe://example.org': jwks } }).size, 1);
    rejects(() => parseJwtBundlesResponse({ bundles: {} }), /bundles is empty/);
    rejects(
      () => parseJwtBundlesResponse({ bundles: { 'spiffe://example.org': Buffer.alloc(0) } }),
      /bundles\["example.org"\] is empty/,
    );
    rejects(
      () => parseJwtBundlesResponse({ bundles: { 'spiffe://example.org': Buffer.from('{') } }),
      /bundles\["example.org"\]/,
    );
  });
});

describe('FetchJWTSVID and ValidateJWTSVID responses', () => {
  const now = (): Date => new Date();
  const web = SpiffeId.parse('spiffe://example.org/web');

  async function rejectsAsync(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
    await assert.rejects(fn, (err: unknown) => {
      assert.ok(err instanceof InvalidWorkloadApiResponseError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('positive control; hints; first of a shared hint wins', async () => {
    const t1 = await f.jwt.mint({ subject: web, audience: ['a', 'b'] });
    const t2 = await f.jwt.mint({ subject: 'spiffe://example.org/db', audience: ['a', 'b'] });
    const svids = await parseJwtSvidResponse(
      {
        svids: [
          { spiffeId: web.toString(), svid: t1, hint: 'x' },
          { spiffeId: 'spiffe://example.org/db', svid: t2, hint: 'x' },
          { spiffeId: 'spiffe://example.org/db', svid: t2, hint: 'y' },
        ],
      },
      ['a', 'b'],
      undefined,
      now,
    );
    assert.deepEqual(
      svids.map((s) => [s.id.path, s.hint]),
      [
        ['/web', 'x'],
        ['/db', 'y'],
      ],
    );
  });

  it('rejects empty svids, empty fields, a sub/spiffe_id mismatch, a wrong subject, a missing audience', async () => {
    const token = await f.jwt.mint({ subject: web, audience: ['a'] });
    const ok = { spiffeId: web.toString(), svid: token, hint: '' };
    assert.equal((await parseJwtSvidResponse({ svids: [ok] }, ['a'], web, now)).length, 1);
    await rejectsAsync(
      () => parseJwtSvidResponse({ svids: [] }, ['a'], undefined, now),
      /svids is empty/,
    );
    await rejectsAsync(
      () => parseJwtSvidResponse({ svids: [{ ...ok, spiffeId: '' }] }, ['a'], undefined, now),
      /spiffe_id is empty/,
    );
    await rejectsAsync(
      () => parseJwtSvidResponse({ svids: [{ ...ok, svid: '' }] }, ['a'], undefined, now),
      /svid is empty/,
    );
    await rejectsAsync(
      () =>
        parseJwtSvidResponse(
          { svids: [{ ...ok, spiffeId: 'spiffe://example.org/db' }] },
          ['a'],
          undefined,
          now,
        ),
      /not the token's subject/,
    );
    await rejectsAsync(
      () =>
        parseJwtSvidResponse(
          { svids: [ok] },
          ['a'],
          SpiffeId.parse('spiffe://example.org/db'),
          now,
        ),
      /not the requested/,
    );
    // Every requested audience must be in the token.
    await rejectsAsync(
      () => parseJwtSvidResponse({ svids: [ok] }, ['a', 'b'], undefined, now),
      /svids\[0\]\.svid/,
    );
    await rejectsAsync(
      () => parseJwtSvidResponse({ svids: [{ ...ok, svid: 'not-a-jwt' }] }, ['a'], undefined, now),
      /svids\[0\]\.svid/,
    );
  });

  it('the token never appears in a rejection message', async () => {
    const token = await f.jwt.mint({ subject: web, audience: ['a'] });
    await assert.rejects(
      () =>
        parseJwtSvidResponse(
          { svids: [{ spiffeId: web.toString(), svid: token, hint: '' }] },
          ['zzz'],
          undefined,
          now,
        ),
      (err: unknown) =>
        err instanceof Error && !err.message.includes(token) && !String(err.stack).includes(token),
    );
  });

  it('ValidateJWTSVID: spiffe_id must be set and be the token’s subject', async () => {
    const token = await f.jwt.mint({ subject: web, audience: ['a'] });
    const ok = await parseValidateJwtSvidResponse(
      { spiffeId: web.toString(), claims: {} },
      token,
      'a',
      now,
    );
    assert.equal(ok.id.toString(), web.toString());
    await rejectsAsync(
      () => parseValidateJwtSvidResponse({ spiffeId: '', claims: {} }, token, 'a', now),
      /spiffe_id is empty/,
    );
    await rejectsAsync(
      () =>
        parseValidateJwtSvidResponse(
          { spiffeId: 'spiffe://example.org/db', claims: {} },
          token,
          'a',
          now,
        ),
      /not the token's subject/,
    );
  });
});

describe('ParseCache (a watch does not re-parse unchanged parts)', () => {
  it('reuses the SVID and bundles of the last accepted response when their bytes are unchanged', () => {
    const cache = new ParseCache();
    const a = parseX509SvidResponse(x509Response(), cache);
    const b = parseX509SvidResponse(x509Response({ federatedBundles: {} }), cache);
    assert.equal(b.defaultSvid, a.defaultSvid);
    assert.equal(b.getX509BundleForTrustDomain(td), a.getX509BundleForTrustDomain(td));
    assert.equal(b.bundles.has(partnerTd), false);
    // Without a cache every call parses afresh (control).
    assert.notEqual(parseX509SvidResponse(x509Response()).defaultSvid, a.defaultSvid);
  });

  it('different bytes are parsed and checked again: a mismatched key is still rejected', () => {
    const cache = new ParseCache();
    parseX509SvidResponse(x509Response(), cache);
    const badKey = entry(f.web1, { x509SvidKey: Buffer.from(f.db.marshalRaw().privateKey) });
    rejects(() => parseX509SvidResponse(x509Response({ svids: [badKey] }), cache), /x509_svid/);
    const rehinted = parseX509SvidResponse(
      x509Response({ svids: [entry(f.web1, { hint: 'h' })] }),
      cache,
    );
    assert.equal(rehinted.defaultSvid.hint, 'h');
  });

  it('a rejected response leaves the cache of the last accepted one intact', () => {
    const cache = new ParseCache();
    const a = parseX509SvidResponse(x509Response(), cache);
    rejects(
      () =>
        parseX509SvidResponse(
          x509Response({ federatedBundles: { 'spiffe://partner.org': Buffer.from([0x30, 0x01]) } }),
          cache,
        ),
      /federated_bundles/,
    );
    assert.equal(parseX509SvidResponse(x509Response(), cache).defaultSvid, a.defaultSvid);
  });

  it('only the last accepted response is remembered', () => {
    const cache = new ParseCache();
    const a = parseX509SvidResponse(x509Response(), cache);
    parseX509SvidResponse(x509Response({ svids: [entry(f.web2)] }), cache);
    assert.notEqual(parseX509SvidResponse(x509Response(), cache).defaultSvid, a.defaultSvid);
  });

  it('bundle responses use it too', () => {
    const cache = new ParseCache();
    const jwks = Buffer.from(f.jwt.jwtBundle().marshal());
    const a = parseJwtBundlesResponse({ bundles: { 'spiffe://example.org': jwks } }, cache);
    const b = parseJwtBundlesResponse({ bundles: { 'spiffe://example.org': jwks } }, cache);
    assert.equal(b.get(td), a.get(td));
    const own = der(f.ca.x509Authorities);
    const x = parseX509BundlesResponse({ crl: [], bundles: { 'example.org': own } }, cache);
    assert.equal(
      parseX509BundlesResponse({ crl: [], bundles: { 'example.org': own } }, cache).get(td),
      x.get(td),
    );
  });
});
