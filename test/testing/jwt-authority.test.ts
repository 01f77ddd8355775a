// JwtAuthority, the JWT half of the test issuer. Its tokens are checked with jose, independently
// of the SDK's own validator, so the kit cannot agree with a validator bug.
import assert from 'node:assert/strict';
import {
  createHmac,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  verify as cryptoVerify,
} from 'node:crypto';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import {
  base64url,
  compactVerify,
  decodeProtectedHeader,
  flattenedVerify,
  generalVerify,
} from 'jose';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  InvalidTrustDomainError,
} from '../../src/errors.js';
import { SpiffeId, TrustDomain } from '../../src/spiffeid/index.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const SUB = 'spiffe://example.org/web';
const NOW = new Date('2031-05-01T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;

function decode(token: string): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signature: Uint8Array;
} {
  const [h, p, s] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(new TextDecoder().decode(base64url.decode(h))) as Record<string, unknown>,
    claims: JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, unknown>,
    signature: base64url.decode(s),
  };
}

let authority: JwtAuthority;

before(async () => {
  authority = await JwtAuthority.create({ trustDomain: 'example.org', kid: 'k1' });
});

describe('JwtAuthority.create', () => {
  it('defaults to ES256 with a random 32-character kid', async () => {
    const a = await JwtAuthority.create({ trustDomain: TrustDomain.parse('example.org') });
    const b = await JwtAuthority.create({ trustDomain: 'example.org' });
    assert.equal(a.alg, 'ES256');
    assert.equal(a.currentKid.length, 32);
    assert.notEqual(a.currentKid, b.currentKid);
    assert.deepEqual(a.kids, [a.currentKid]);
    assert.equal(a.trustDomain.name, 'example.org');
    const key = a.jwtBundle().findAuthority(a.currentKid);
    assert.equal(key?.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  it('rejects a bad algorithm, an empty kid and a bad trust domain', async () => {
    await assert.rejects(
      JwtAuthority.create({ trustDomain: 'example.org', alg: 'HS256' as never }),
      InvalidArgumentError,
    );
    await assert.rejects(
      JwtAuthority.create({ trustDomain: 'example.org', kid: '' }),
      InvalidArgumentError,
    );
    await assert.rejects(
      JwtAuthority.create({ trustDomain: 'Example.org' }),
      InvalidTrustDomainError,
    );
  });
});

describe('JwtAuthority.mint', () => {
  it('makes tokens that jose verifies, for EC, RSA and RSA-PSS algorithms', async () => {
    // Created concurrently: key generation runs on the thread pool, and RSA's is slow.
    const algs = ['ES256', 'ES384', 'ES512', 'RS256', 'PS512'] as const;
    const authorities = await Promise.all(
      algs.map((alg) => JwtAuthority.create({ trustDomain: 'example.org', alg })),
    );
    for (const [i, alg] of algs.entries()) {
      const a = authorities[i]!;
      const token = await a.mint({ subject: SUB, audience: 'aud' });
      const key = a.jwtBundle().findAuthority(a.currentKid)!;
      const { protectedHeader } = await compactVerify(token, key, { algorithms: [alg] });
      assert.deepEqual(protectedHeader, { alg, kid: a.currentKid, typ: 'JWT' });
    }
  });

  it('writes sub, aud, iat and exp (default lifetime one hour), and nbf and extra claims when asked', async () => {
    const token = await authority.mint({
      subject: SpiffeId.parse(SUB),
      audience: 'aud',
      issuedAt: NOW,
    });
    assert.deepEqual(decode(token).claims, { sub: SUB, aud: 'aud', iat: NOW_S, exp: NOW_S + 3600 });
    const more = await authority.mint({
      subject: SUB,
      audience: ['a', 'b'],
      issuedAt: NOW_S,
      ttlSeconds: 60,
      notBefore: new Date((NOW_S - 5) * 1000),
      extraClaims: { iss: 'me', jti: 'x' },
    });
    assert.deepEqual(decode(more).claims, {
      iss: 'me',
      jti: 'x',
      sub: SUB,
      aud: ['a', 'b'],
      iat: NOW_S,
      exp: NOW_S + 60,
      nbf: NOW_S - 5,
    });
    const fixed = await authority.mint({
      subject: SUB,
      audience: 'a',
      issuedAt: NOW,
      expiresAt: NOW_S + 7,
      ttlSeconds: 999,
    });
    assert.equal(decode(fixed).claims['exp'], NOW_S + 7);
  });

  it('uses the current time for iat by default', async () => {
    const before = Math.floor(Date.now() / 1000);
    const iat = decode(await authority.mint({ subject: SUB, audience: 'a' })).claims[
      'iat'
    ] as number;
    assert.ok(iat >= before && iat <= Math.ceil(Date.now() / 1000), String(iat));
  });

  it('can leave out kid and typ, or write typ JOSE', async () => {
    assert.deepEqual(
      decodeProtectedHeader(await authority.mint({ subject: SUB, audience: 'a', omitKid: true })),
      { alg: 'ES256', typ: 'JWT' },
    );
    assert.deepEqual(
      decodeProtectedHeader(await authority.mint({ subject: SUB, audience: 'a', typ: false })),
      { alg: 'ES256', kid: 'k1' },
    );
    assert.equal(
      decodeProtectedHeader(await authority.mint({ subject: SUB, audience: 'a', typ: 'JOSE' })).typ,
      'JOSE',
    );
  });

  it('refuses what would not be a valid JWT-SVID of this trust domain', async () => {
    await assert.rejects(
      authority.mint({ subject: 'spiffe://other.org/web', audience: 'a' }),
      InvalidArgumentError,
    );
    await assert.rejects(authority.mint({ subject: SUB, audience: '' }), InvalidArgumentError);
    await assert.rejects(authority.mint({ subject: SUB, audience: [] }), InvalidArgumentError);
    await assert.rejects(
      authority.mint({ subject: SUB, audience: ['a', ''] }),
      InvalidArgumentError,
    );
    await assert.rejects(
      authority.mint({ subject: SUB, audience: 'a', extraClaims: { exp: 1 } }),
      InvalidArgumentError,
    );
    await assert.rejects(
      authority.mint({ subject: SUB, audience: 'a', kid: 'nope' }),
      InvalidArgumentError,
    );
    await authority.mint({ subject: SUB, audience: 'a', kid: 'k1' }); // control
  });

  it('mintSvid returns the parsed JwtSvid with a hint', async () => {
    const svid = await authority.mintSvid({ subject: SUB, audience: 'a', hint: 'internal' });
    assert.equal(svid.id.toString(), SUB);
    assert.equal(svid.hint, 'internal');
    assert.deepEqual(decode(svid.marshal()).claims['sub'], SUB);
  });
});

describe('rotation', () => {
  it('rotate() adds a key and signs with it; retireOldKeys() removes the old ones', async () => {
    const a = await JwtAuthority.create({ trustDomain: 'example.org', kid: 'old' });
    const oldToken = await a.mint({ subject: SUB, audience: 'a' });
    const bundleBefore = a.jwtBundle();
    assert.equal(a.jwtBundle(), bundleBefore, 'the same bundle object until the keys change');
    const newKid = await a.rotate({ kid: 'new' });
    assert.equal(newKid, 'new');
    assert.equal(a.currentKid, 'new');
    assert.deepEqual(a.kids, ['old', 'new']);
    assert.notEqual(a.jwtBundle(), bundleBefore);
    assert.deepEqual([...a.jwtBundle().jwtAuthorities.keys()], ['old', 'new']);
    const newToken = await a.mint({ subject: SUB, audience: 'a' });
    assert.equal(decodeProtectedHeader(newToken).kid, 'new');
    await compactVerify(oldToken, a.jwtBundle().findAuthority('old')!);
    await compactVerify(newToken, a.jwtBundle().findAuthority('new')!);
    assert.equal(
      decodeProtectedHeader(await a.mint({ subject: SUB, audience: 'a', kid: 'old' })).kid,
      'old',
    );
    a.retireOldKeys();
    assert.deepEqual(a.kids, ['new']);
    assert.deepEqual([...a.jwtBundle().jwtAuthorities.keys()], ['new']);
    await assert.rejects(a.mint({ subject: SUB, audience: 'a', kid: 'old' }), InvalidArgumentError);
    await assert.rejects(a.rotate({ kid: 'new' }), InvalidArgumentError);
  });

  it('is a JwtBundleSource for its own trust domain only', () => {
    assert.equal(
      authority.getJwtBundleForTrustDomain(TrustDomain.parse('example.org')),
      authority.jwtBundle(),
    );
    assert.throws(
      () => authority.getJwtBundleForTrustDomain(TrustDomain.parse('other.org')),
      BundleNotFoundError,
    );
  });
});

describe('mintUnchecked', () => {
  const base = { subject: SUB, audience: 'a', issuedAt: NOW } as const;
  const keyOf = (a: JwtAuthority) => a.jwtBundle().findAuthority(a.currentKid)!;

  it('with no knobs makes a token signed like mint', async () => {
    const token = await authority.mintUnchecked(base);
    const { protectedHeader, payload } = await compactVerify(token, keyOf(authority), {
      algorithms: ['ES256'],
    });
    assert.deepEqual(protectedHeader, { alg: 'ES256', kid: 'k1', typ: 'JWT' });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), {
      sub: SUB,
      aud: 'a',
      iat: NOW_S,
      exp: NOW_S + 3600,
    });
  });

  it('takes any claim values and removes claims set to undefined', async () => {
    const token = await authority.mintUnchecked({
      ...base,
      subject: 42,
      audience: null,
      claims: { exp: undefined, iat: 'x', extra: [1] },
    });
    assert.deepEqual(decode(token).claims, { sub: 42, aud: null, iat: 'x', extra: [1] });
    const dflt = await authority.mintUnchecked({});
    assert.equal(decode(dflt).claims['sub'], 'spiffe://example.org/workload');
    assert.equal(decode(dflt).claims['aud'], 'test-audience');
  });

  it('merges header overrides and removes members set to undefined', async () => {
    const token = await authority.mintUnchecked({
      ...base,
      header: { kid: undefined, typ: 'jwt', crit: ['x'] },
    });
    assert.deepEqual(decode(token).header, { alg: 'ES256', typ: 'jwt', crit: ['x'] });
  });

  it("signer 'none' writes alg none and an empty signature", async () => {
    const token = await authority.mintUnchecked({ ...base, signer: 'none' });
    assert.equal(decode(token).header['alg'], 'none');
    assert.ok(token.endsWith('.'));
  });

  it("signer 'hs256-public-key' is an HMAC keyed with the public key's PEM", async () => {
    const token = await authority.mintUnchecked({ ...base, signer: 'hs256-public-key' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const pem = keyOf(authority).export({ type: 'spki', format: 'pem' });
    assert.equal(decode(token).header['alg'], 'HS256');
    assert.equal(s, base64url.encode(createHmac('sha256', pem).update(`${h}.${p}`).digest()));
  });

  it("signer 'eddsa' signs with a fresh Ed25519 key", async () => {
    const token = await authority.mintUnchecked({ ...base, signer: 'eddsa' });
    assert.equal(decode(token).header['alg'], 'EdDSA');
    assert.equal(decode(token).signature.length, 64);
  });

  it('signs with a given key and alg', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const token = await authority.mintUnchecked({
      ...base,
      signer: { key: pair.privateKey, alg: 'ES384' },
    });
    assert.equal(decode(token).header['alg'], 'ES384');
    await compactVerify(token, pair.publicKey, { algorithms: ['ES384'] });
    await assert.rejects(
      authority.mintUnchecked({ ...base, signer: { key: pair.privateKey, alg: 'XX1' } }),
      InvalidArgumentError,
    );
  });

  it('tamperSignature flips a bit: the signature no longer verifies', async () => {
    const token = await authority.mintUnchecked({ ...base, tamperSignature: true });
    const [h, p] = token.split('.') as [string, string, string];
    const ok = cryptoVerify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: keyOf(authority), dsaEncoding: 'ieee-p1363' },
      decode(token).signature,
    );
    assert.equal(ok, false);
    assert.equal(decode(token).signature.length, 64);
  });

  it('tamperClaims changes the payload after signing', async () => {
    const token = await authority.mintUnchecked({
      ...base,
      tamperClaims: { sub: 'spiffe://example.org/admin' },
    });
    assert.equal(decode(token).claims['sub'], 'spiffe://example.org/admin');
    await assert.rejects(compactVerify(token, keyOf(authority)));
  });

  it('uses rawHeader and rawPayload verbatim', async () => {
    const token = await authority.mintUnchecked({
      ...base,
      rawHeader: 'not json',
      rawPayload: '[1,2]',
    });
    const [h, p] = token.split('.') as [string, string, string];
    assert.equal(new TextDecoder().decode(base64url.decode(h)), 'not json');
    assert.equal(new TextDecoder().decode(base64url.decode(p)), '[1,2]');
  });

  it('writes the JWS JSON serializations, which jose verifies', async () => {
    const flat = JSON.parse(
      await authority.mintUnchecked({ ...base, serialization: 'flattened-json' }),
    ) as Parameters<typeof flattenedVerify>[0];
    await flattenedVerify(flat, keyOf(authority));
    const general = JSON.parse(
      await authority.mintUnchecked({ ...base, serialization: 'general-json' }),
    ) as Parameters<typeof generalVerify>[0];
    await generalVerify(general, keyOf(authority));
  });

  it('cuts or pads the compact form to the number of parts asked for', async () => {
    for (const parts of [1, 2, 4, 5]) {
      assert.equal((await authority.mintUnchecked({ ...base, parts })).split('.').length, parts);
    }
    await assert.rejects(authority.mintUnchecked({ ...base, parts: 0 }), InvalidArgumentError);
  });

  it('signs with an RSA key under an RSA alg even when the kid names an EC key', async () => {
    const rsa = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    const token = await authority.mintUnchecked({
      ...base,
      signer: { key: rsa.privateKey, alg: 'RS256' },
    });
    assert.deepEqual(decode(token).header, { alg: 'RS256', kid: 'k1', typ: 'JWT' });
    await compactVerify(token, createPublicKey(rsa.privateKey), { algorithms: ['RS256'] });
  });
});
