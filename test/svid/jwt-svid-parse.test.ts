// parseAndValidateJwtSvid / parseInsecureJwtSvid: every rule, each negative beside a positive
// control built the same way (the same authority, the same base claims, one knob changed).
import assert from 'node:assert/strict';
import { constants, generateKeyPair, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { base64url } from 'jose';
import { JwtBundle } from '../../src/bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../../src/bundle/source.js';
import { InvalidArgumentError, type JwtSvidFailure } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { MAX_JWT_SVID_LENGTH } from '../../src/svid/jwt-svid-checks.js';
import { parseAndValidateJwtSvid, parseInsecureJwtSvid } from '../../src/svid/parse-jwt-svid.js';
import { JwtAuthority, type MintUncheckedOptions } from '../../src/testing/jwt-authority.js';
import { AUD, NOW, NOW_S, SUB, rejectsWith, sourceOf } from './jwt-helpers.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const BASE: MintUncheckedOptions = { subject: SUB, audience: AUD, issuedAt: NOW, ttlSeconds: 300 };

let es: JwtAuthority;
let bundle: JwtBundle;
/** One RSA-2048 key pair for every RSA case: RSA key generation is slow. */
let rsa: { privateKey: KeyObject; publicKey: KeyObject };

function validate(
  token: string,
  options: {
    audience?: string | readonly string[];
    source?: JwtBundleSource;
    now?: Date;
    clockTolerance?: number;
    requireAllAudiences?: boolean;
  } = {},
): ReturnType<typeof parseAndValidateJwtSvid> {
  const { audience = AUD, source = bundle, now = NOW, ...rest } = options;
  return parseAndValidateJwtSvid(token, source, audience, { now, ...rest });
}

function insecure(
  token: string,
  audience: string | readonly string[] = AUD,
): ReturnType<typeof parseInsecureJwtSvid> {
  return parseInsecureJwtSvid(token, audience, { now: NOW });
}

function mint(options: MintUncheckedOptions): Promise<string> {
  return es.mintUnchecked({ ...BASE, ...options });
}

before(async () => {
  es = await JwtAuthority.create({ trustDomain: 'example.org', kid: 'es-1' });
  bundle = es.jwtBundle();
  rsa = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
});

describe('positive controls', () => {
  it('accepts a token from JwtAuthority.mint and returns its parts', async () => {
    const token = await es.mint({
      subject: SUB,
      audience: AUD,
      issuedAt: NOW,
      ttlSeconds: 300,
      extraClaims: { iss: 'test', n: { deep: [1] } },
    });
    for (const svid of [await validate(token), await insecure(token)]) {
      assert.equal(svid.id.toString(), SUB);
      assert.deepEqual(svid.audience, [AUD]);
      assert.equal(svid.expiry.getTime(), (NOW_S + 300) * 1000);
      assert.equal(svid.claims['iss'], 'test');
      assert.equal(svid.claims['exp'], NOW_S + 300);
      assert.equal(svid.marshal(), token);
      assert.equal(svid.token, token);
      assert.equal(svid.hint, '');
    }
  });

  it('accepts the unmodified mintUnchecked baseline that every negative below changes', async () => {
    const token = await mint({});
    assert.equal((await validate(token)).id.toString(), SUB);
    assert.equal((await insecure(token)).id.toString(), SUB);
  });

  it('accepts every JWT-SVID algorithm', async () => {
    for (const alg of ['ES256', 'ES384', 'ES512'] as const) {
      const authority = await JwtAuthority.create({ trustDomain: 'example.org', alg });
      const token = await authority.mint({ subject: SUB, audience: AUD, issuedAt: NOW });
      const svid = await parseAndValidateJwtSvid(token, authority.jwtBundle(), AUD, { now: NOW });
      assert.equal(svid.id.toString(), SUB, alg);
    }
    const source = bundle.withAuthority('rsa', rsa.publicKey);
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const) {
      const token = await mint({ signer: { key: rsa.privateKey, alg }, header: { kid: 'rsa' } });
      assert.equal((await validate(token, { source })).id.toString(), SUB, alg);
    }
  });

  it('returns a promise even for a programming error (never throws synchronously)', async () => {
    const promise = parseAndValidateJwtSvid('x', bundle, '');
    assert.ok(promise instanceof Promise);
    await assert.rejects(promise, InvalidArgumentError);
  });
});

interface Row {
  readonly name: string;
  readonly good: MintUncheckedOptions;
  readonly bad: MintUncheckedOptions;
  readonly reason: JwtSvidFailure;
  /** Also a rule of parseInsecureJwtSvid (everything but key and signature rules). */
  readonly insecureToo: boolean;
  readonly message?: RegExp;
}

// Rows that need only mintUnchecked. Each `good` differs from `bad` in the one knob under test.
const ROWS: readonly Row[] = [
  // JOSE header (JWT-SVID §2)
  {
    name: 'alg none',
    good: {},
    bad: { signer: 'none' },
    reason: 'algorithm',
    insecureToo: true,
    message: /"none" is not allowed/,
  },
  {
    name: 'alg HS256 keyed with the public key (confusion attack)',
    good: {},
    bad: { signer: 'hs256-public-key' },
    reason: 'algorithm',
    insecureToo: true,
    message: /"HS256"/,
  },
  {
    name: 'alg EdDSA',
    good: {},
    bad: { signer: 'eddsa' },
    reason: 'algorithm',
    insecureToo: true,
    message: /"EdDSA"/,
  },
  {
    name: 'alg missing',
    good: {},
    bad: { header: { alg: undefined } },
    reason: 'algorithm',
    insecureToo: true,
    message: /"alg" header is missing/,
  },
  {
    name: 'alg in lower case',
    good: {},
    bad: { header: { alg: 'es256' } },
    reason: 'algorithm',
    insecureToo: true,
  },
  {
    name: 'alg not a string',
    good: {},
    bad: { header: { alg: ['ES256'] } },
    reason: 'algorithm',
    insecureToo: true,
  },
  {
    name: 'alg __proto__',
    good: {},
    bad: { header: { alg: '__proto__' } },
    reason: 'algorithm',
    insecureToo: true,
  },
  {
    name: 'typ other than JWT/JOSE',
    good: { header: { typ: 'JOSE' } },
    bad: { header: { typ: 'jwt' } },
    reason: 'type',
    insecureToo: true,
    message: /"typ" "jwt"/,
  },
  {
    name: 'typ null',
    good: { header: { typ: undefined } },
    bad: { header: { typ: null } },
    reason: 'type',
    insecureToo: true,
  },
  {
    name: 'typ wit+jwt (a WIT-SVID)',
    good: { header: { typ: 'JWT' } },
    bad: { header: { typ: 'wit+jwt' } },
    reason: 'type',
    insecureToo: true,
  },
  {
    name: 'crit header',
    good: {},
    bad: { header: { crit: ['exp'], exp: 1 } },
    reason: 'critical-header',
    insecureToo: true,
  },
  {
    name: 'crit header, empty',
    good: {},
    bad: { header: { crit: [] } },
    reason: 'critical-header',
    insecureToo: true,
  },
  {
    name: 'crit b64 (RFC 7797 unencoded payload)',
    good: {},
    bad: { header: { crit: ['b64'], b64: false } },
    reason: 'critical-header',
    insecureToo: true,
  },
  {
    name: 'kid empty',
    good: {},
    bad: { header: { kid: '' } },
    reason: 'malformed',
    insecureToo: true,
    message: /"kid" header must be a non-empty string/,
  },
  {
    name: 'kid not a string',
    good: {},
    bad: { header: { kid: 7 } },
    reason: 'malformed',
    insecureToo: true,
  },
  {
    name: 'kid unknown',
    good: {},
    bad: { header: { kid: 'nope' } },
    reason: 'unknown-key',
    insecureToo: false,
    message: /"nope"/,
  },
  {
    name: 'header not JSON',
    good: {},
    bad: { rawHeader: '{"alg":"ES256"' },
    reason: 'malformed',
    insecureToo: true,
    message: /JOSE header is not JSON/,
  },
  {
    name: 'header a JSON array',
    good: {},
    bad: { rawHeader: '["ES256"]' },
    reason: 'malformed',
    insecureToo: true,
    message: /not a JSON object/,
  },
  // Serialization (JWT-SVID §1, §5.1)
  {
    name: 'flattened JSON serialization',
    good: {},
    bad: { serialization: 'flattened-json' },
    reason: 'malformed',
    insecureToo: true,
    message: /JSON serialization is not allowed/,
  },
  {
    name: 'general JSON serialization',
    good: {},
    bad: { serialization: 'general-json' },
    reason: 'malformed',
    insecureToo: true,
    message: /JSON serialization is not allowed/,
  },
  {
    name: 'two parts',
    good: { parts: 3 },
    bad: { parts: 2 },
    reason: 'malformed',
    insecureToo: true,
    message: /got 2/,
  },
  {
    name: 'four parts',
    good: { parts: 3 },
    bad: { parts: 4 },
    reason: 'malformed',
    insecureToo: true,
    message: /got 4/,
  },
  {
    name: 'five parts (JWE shape)',
    good: { parts: 3 },
    bad: { parts: 5 },
    reason: 'malformed',
    insecureToo: true,
    message: /JWE/,
  },
  {
    name: 'one part',
    good: { parts: 3 },
    bad: { parts: 1 },
    reason: 'malformed',
    insecureToo: true,
  },
  // Claims (JWT-SVID §3)
  {
    name: 'payload not JSON',
    good: {},
    bad: { rawPayload: 'sub=spiffe://example.org/web' },
    reason: 'malformed',
    insecureToo: true,
    message: /claims set is not JSON/,
  },
  {
    name: 'payload a JSON array',
    good: {},
    bad: { rawPayload: '[]' },
    reason: 'malformed',
    insecureToo: true,
  },
  {
    name: 'sub missing',
    good: {},
    bad: { claims: { sub: undefined } },
    reason: 'missing-claim',
    insecureToo: true,
    message: /"sub" claim is missing/,
  },
  {
    name: 'sub not a string',
    good: {},
    bad: { subject: 42 },
    reason: 'claim-type',
    insecureToo: true,
    message: /"sub" claim must be a string/,
  },
  {
    name: 'sub not a SPIFFE ID',
    good: { subject: 'spiffe://example.org/web' },
    bad: { subject: 'https://example.org/web' },
    reason: 'subject',
    insecureToo: true,
    message: /not a valid SPIFFE ID \(scheme\)/,
  },
  {
    name: 'sub with a trailing slash',
    good: { subject: 'spiffe://example.org/web' },
    bad: { subject: 'spiffe://example.org/web/' },
    reason: 'subject',
    insecureToo: true,
  },
  { name: 'sub empty', good: {}, bad: { subject: '' }, reason: 'subject', insecureToo: true },
  {
    name: 'aud missing',
    good: {},
    bad: { claims: { aud: undefined } },
    reason: 'missing-claim',
    insecureToo: true,
    message: /"aud" claim is missing/,
  },
  {
    name: 'aud a number',
    good: { audience: AUD },
    bad: { audience: 42 },
    reason: 'claim-type',
    insecureToo: true,
    message: /string or an array of strings/,
  },
  { name: 'aud null', good: {}, bad: { audience: null }, reason: 'claim-type', insecureToo: true },
  {
    name: 'aud array with a non-string',
    good: { audience: [AUD, 'x'] },
    bad: { audience: [AUD, 1] },
    reason: 'claim-type',
    insecureToo: true,
  },
  {
    name: 'aud an empty array',
    good: { audience: [AUD] },
    bad: { audience: [] },
    reason: 'audience',
    insecureToo: true,
    message: /one or more values/,
  },
  {
    name: 'exp missing',
    good: {},
    bad: { claims: { exp: undefined } },
    reason: 'missing-claim',
    insecureToo: true,
    message: /"exp" claim is missing/,
  },
  {
    name: 'exp a string',
    good: { expiresAt: NOW_S + 60 },
    bad: { claims: { exp: String(NOW_S + 60) } },
    reason: 'claim-type',
    insecureToo: true,
    message: /"exp" claim must be a number/,
  },
  {
    name: 'exp null',
    good: {},
    bad: { claims: { exp: null } },
    reason: 'claim-type',
    insecureToo: true,
  },
  {
    name: 'nbf a string',
    good: { notBefore: NOW_S - 10 },
    bad: { claims: { nbf: String(NOW_S - 10) } },
    reason: 'claim-type',
    insecureToo: true,
    message: /"nbf" claim must be a number/,
  },
  {
    name: 'iat a string',
    good: { issuedAt: NOW_S },
    bad: { claims: { iat: String(NOW_S) } },
    reason: 'claim-type',
    insecureToo: true,
    message: /"iat" claim must be a number/,
  },
  // Signature (RFC 7515 §5.2)
  {
    name: 'tampered signature',
    good: {},
    bad: { tamperSignature: true },
    reason: 'signature',
    insecureToo: false,
  },
  {
    name: 'tampered payload (sub changed after signing)',
    good: {},
    bad: { tamperClaims: { sub: 'spiffe://example.org/admin' } },
    reason: 'signature',
    insecureToo: false,
  },
  {
    name: 'tampered payload (aud changed after signing)',
    good: {},
    bad: { tamperClaims: { aud: [AUD, 'spiffe://example.org/other'] } },
    reason: 'signature',
    insecureToo: false,
  },
];

describe('rules (table)', () => {
  for (const row of ROWS) {
    it(`${row.name}: rejected with "${row.reason}", the control is accepted`, async () => {
      const good = await mint(row.good);
      assert.equal((await validate(good)).id.trustDomain.name, 'example.org');
      const bad = await mint(row.bad);
      await rejectsWith(validate(bad), row.reason, bad, row.message);
      if (row.insecureToo) {
        await insecure(good);
        await rejectsWith(insecure(bad), row.reason, bad, row.message);
      } else {
        // parseInsecureJwtSvid checks no key or signature: the same token passes there.
        assert.equal((await insecure(bad)).id.trustDomain.name, 'example.org');
      }
    });
  }
});

describe('structure and encoding', () => {
  it('rejects tokens over MAX_JWT_SVID_LENGTH characters before parsing; accepts one just under', async () => {
    const pad = (n: number): Promise<string> => mint({ extraClaims: { pad: 'a'.repeat(n) } });
    const small = await pad(10);
    const room = MAX_JWT_SVID_LENGTH - small.length;
    // base64url grows 4/3: choose padding so the token lands just under, then just over.
    const under = await pad(10 + Math.floor((room * 3) / 4) - 8);
    assert.ok(
      under.length <= MAX_JWT_SVID_LENGTH && under.length > MAX_JWT_SVID_LENGTH - 16,
      String(under.length),
    );
    await validate(under);
    const over = await pad(10 + Math.floor((room * 3) / 4) + 8);
    assert.ok(over.length > MAX_JWT_SVID_LENGTH);
    await rejectsWith(validate(over), 'malformed', over, /at most 65536/);
    await rejectsWith(insecure(over), 'malformed', over);
  });

  it('rejects characters outside the base64url alphabet, padding and whitespace', async () => {
    const token = await mint({});
    await validate(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    const variants = [
      `${h}.${p}.${s}=`,
      `${h}=.${p}.${s}`,
      `${h}.${p.slice(0, 5)}+${p.slice(6)}.${s}`,
      `${h}.${p.slice(0, 5)}/${p.slice(6)}.${s}`,
      `${h}.${p} .${s}`,
      ` ${token}`,
      `${token}\n`,
      `${h}.${p}.${s.slice(0, 4)}*${s.slice(5)}`,
    ];
    for (const bad of variants) await rejectsWith(validate(bad), 'malformed', bad, /base64url/);
  });

  it('rejects a part whose length no base64url string can have', async () => {
    const token = await mint({});
    const [h, p, s] = token.split('.') as [string, string, string];
    const cut =
      p.length % 4 === 0 ? p.slice(0, -3) : p.length % 4 === 2 ? p.slice(0, -1) : p.slice(0, -2);
    assert.equal(cut.length % 4, 1);
    const bad = `${h}.${cut}.${s}`;
    await rejectsWith(validate(bad), 'malformed', bad, /length/);
  });

  it('rejects an empty token and empty parts', async () => {
    await rejectsWith(validate(''), 'malformed', '', /empty/);
    const token = await mint({});
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const bad of [`.${p}.${s}`, `${h}..${s}`, `${h}.${p}.`]) {
      await rejectsWith(validate(bad), 'malformed', bad);
    }
  });

  it('rejects a payload that is not UTF-8', async () => {
    const token = await mint({});
    const [h, , s] = token.split('.') as [string, string, string];
    const bad = `${h}.${base64url.encode(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d))}.${s}`;
    await rejectsWith(validate(bad), 'malformed', bad, /not UTF-8/);
  });

  it('rejects a value that is not a string at all', async () => {
    for (const value of [undefined, null, 42, {}, ['a.b.c']]) {
      await rejectsWith(validate(value as string), 'malformed', '', /must be a string/);
    }
  });
});

describe('algorithm and key', () => {
  it('rejects an RS256 token whose kid names an EC key (alg/key confusion)', async () => {
    const control = await mint({
      signer: { key: rsa.privateKey, alg: 'RS256' },
      header: { kid: 'rsa' },
    });
    const withRsa = bundle.withAuthority('rsa', rsa.publicKey);
    await validate(control, { source: withRsa });
    const bad = await mint({
      signer: { key: rsa.privateKey, alg: 'RS256' },
      header: { kid: 'es-1' },
    });
    await rejectsWith(
      validate(bad, { source: withRsa }),
      'algorithm',
      bad,
      /RS256.*does not fit.*EC P-256/,
    );
  });

  it('rejects ES384 and ES512 headers over a P-256 key', async () => {
    for (const alg of ['ES384', 'ES512']) {
      const bad = await mint({ header: { alg } });
      await rejectsWith(validate(bad), 'algorithm', bad, /needs an EC P-(384|521) key/);
    }
  });

  it('rejects a PS256 signature presented as RS256, and the reverse', async () => {
    const source = bundle.withAuthority('rsa', rsa.publicKey);
    const ps = await mint({
      signer: { key: rsa.privateKey, alg: 'PS256' },
      header: { kid: 'rsa' },
    });
    const rs = await mint({
      signer: { key: rsa.privateKey, alg: 'RS256' },
      header: { kid: 'rsa' },
    });
    await validate(ps, { source });
    await validate(rs, { source });
    const psAsRs = await mint({
      signer: { key: rsa.privateKey, alg: 'PS256' },
      header: { kid: 'rsa', alg: 'RS256' },
    });
    const rsAsPs = await mint({
      signer: { key: rsa.privateKey, alg: 'RS256' },
      header: { kid: 'rsa', alg: 'PS256' },
    });
    await rejectsWith(validate(psAsRs, { source }), 'signature', psAsRs);
    await rejectsWith(validate(rsAsPs, { source }), 'signature', rsAsPs);
  });

  it('rejects a PS256 signature whose salt is not as long as the hash (RFC 7518 §3.5)', async () => {
    const source = bundle.withAuthority('rsa', rsa.publicKey);
    const header = base64url.encode(JSON.stringify({ alg: 'PS256', kid: 'rsa' }));
    const payload = (await mint({})).split('.')[1]!;
    const input = Buffer.from(`${header}.${payload}`);
    const withSalt = (saltLength: number): string =>
      `${header}.${payload}.${base64url.encode(
        sign('sha256', input, {
          key: rsa.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength,
        }),
      )}`;
    await validate(withSalt(32), { source });
    for (const saltLength of [0, 20, 64]) {
      const bad = withSalt(saltLength);
      await rejectsWith(validate(bad, { source }), 'signature', bad);
    }
  });

  it('rejects RSA keys shorter than 2048 bits (RFC 7518 §3.3)', async () => {
    // JwtBundle itself refuses such keys; a hand-made source proves the validator checks too.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const keys = new Map([
      ['weak', weak.publicKey],
      ['strong', rsa.publicKey],
    ]);
    const fake = {
      trustDomain: bundle.trustDomain,
      jwtAuthorities: keys,
      findAuthority: (kid: string) => keys.get(kid),
    } as unknown as JwtBundle;
    const source: JwtBundleSource = { getJwtBundleForTrustDomain: () => fake };
    const good = await mint({
      signer: { key: rsa.privateKey, alg: 'RS256' },
      header: { kid: 'strong' },
    });
    await validate(good, { source });
    const bad = await mint({
      signer: { key: weak.privateKey, alg: 'RS256' },
      header: { kid: 'weak' },
    });
    await rejectsWith(validate(bad, { source }), 'algorithm', bad, /at least 2048 bits/);
    const kidless = await mint({
      signer: { key: weak.privateKey, alg: 'RS256' },
      header: { kid: undefined },
    });
    await rejectsWith(validate(kidless, { source }), 'signature', kidless);
  });

  it('rejects an Ed25519 bundle key even under a matching kid (EdDSA is not allowed)', async () => {
    const ed = generateKeyPairSync('ed25519');
    const source = bundle.withAuthority('ed', ed.publicKey);
    const bad = await mint({ signer: { key: ed.privateKey, alg: 'EdDSA' }, header: { kid: 'ed' } });
    await rejectsWith(validate(bad, { source }), 'algorithm', bad);
  });

  it('rejects an ECDSA signature in DER form instead of R||S (RFC 7518 §3.4)', async () => {
    const token = await mint({});
    const p = token.split('.')[1]!;
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const source = bundle.withAuthority('der', key.publicKey);
    const header = base64url.encode(JSON.stringify({ alg: 'ES256', kid: 'der' }));
    const input = Buffer.from(`${header}.${p}`);
    const p1363 = `${header}.${p}.${base64url.encode(sign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }))}`;
    await validate(p1363, { source });
    const der = `${header}.${p}.${base64url.encode(sign('sha256', input, key.privateKey))}`;
    await rejectsWith(validate(der, { source }), 'signature', der);
  });
});

describe('keys named by the token itself are ignored', () => {
  it('never uses an embedded jwk, jku, x5c or x5u header', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    const embedded = {
      jwk,
      jku: 'https://attacker.example/jwks',
      x5u: 'https://attacker.example/c',
      x5c: ['AAAA'],
    };
    // Control: the extra headers alone do not make a token fail.
    const good = await mint({ header: embedded });
    await validate(good);
    for (const kid of ['es-1', undefined]) {
      const bad = await mint({
        signer: { key: attacker.privateKey, alg: 'ES256' },
        header: { ...embedded, kid },
      });
      await rejectsWith(validate(bad), 'signature', bad);
    }
  });
});

describe('kid is optional (JWT-SVID §2.2)', () => {
  it('verifies a kid-less token by trying the keys that fit alg', async () => {
    const authority = await JwtAuthority.create({ trustDomain: 'example.org' });
    await authority.rotate();
    // Signed by the newest key, so the first key tried does not verify and the search goes on.
    const token = await authority.mint({
      subject: SUB,
      audience: AUD,
      issuedAt: NOW,
      omitKid: true,
    });
    assert.ok(
      !JSON.stringify(
        JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()),
      ).includes('kid'),
    );
    const source = authority.jwtBundle().withAuthority('rsa', rsa.publicKey);
    const svid = await parseAndValidateJwtSvid(token, source, AUD, { now: NOW });
    assert.equal(svid.id.toString(), SUB);
  });

  it('rejects a kid-less token when no key of the trust domain fits alg', async () => {
    const rsaOnly = JwtBundle.fromAuthorities(TrustDomain.parse('example.org'), {
      rsa: rsa.publicKey,
    });
    const token = await mint({ header: { kid: undefined } });
    await validate(token); // control: es's own bundle has a fitting key
    await rejectsWith(
      validate(token, { source: rsaOnly }),
      'unknown-key',
      token,
      /no "kid" and no JWT authority/,
    );
  });

  it('rejects a kid-less token that no fitting key verifies', async () => {
    const other = JwtBundle.fromAuthorities(TrustDomain.parse('example.org'), {
      a: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      b: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    });
    const token = await mint({ header: { kid: undefined } });
    await validate(token);
    await rejectsWith(validate(token, { source: other }), 'signature', token, /none of the 2/);
  });

  it('rejects a kid-less token in an empty bundle', async () => {
    const token = await mint({ header: { kid: undefined } });
    const empty = JwtBundle.empty(TrustDomain.parse('example.org'));
    await rejectsWith(validate(token, { source: empty }), 'unknown-key', token);
  });
});

describe('the key comes only from the subject trust domain bundle', () => {
  let a: JwtAuthority;
  let b: JwtAuthority;
  let both: JwtBundleSource;
  before(async () => {
    a = await JwtAuthority.create({ trustDomain: 'a.org', kid: 'shared-kid' });
    b = await JwtAuthority.create({ trustDomain: 'b.org', kid: 'b-kid' });
    both = sourceOf(a.jwtBundle(), b.jwtBundle());
  });

  it("rejects a token for b.org signed by a.org's key with a.org's kid", async () => {
    const good = await b.mint({ subject: 'spiffe://b.org/x', audience: AUD, issuedAt: NOW });
    await validate(good, { source: both });
    const bad = await a.mintUnchecked({ ...BASE, subject: 'spiffe://b.org/x' });
    await rejectsWith(
      validate(bad, { source: both }),
      'unknown-key',
      bad,
      /"shared-kid".*trust domain "b.org"/,
    );
  });

  it("rejects it even when b.org has a key with the same kid as a.org's", async () => {
    const collide = await JwtAuthority.create({ trustDomain: 'b.org', kid: 'shared-kid' });
    const source = sourceOf(a.jwtBundle(), collide.jwtBundle());
    const good = await collide.mint({ subject: 'spiffe://b.org/x', audience: AUD, issuedAt: NOW });
    await validate(good, { source });
    const bad = await a.mintUnchecked({ ...BASE, subject: 'spiffe://b.org/x' });
    await rejectsWith(validate(bad, { source }), 'signature', bad);
  });

  it("rejects a kid-less token for b.org signed by a.org's key", async () => {
    const bad = await a.mintUnchecked({
      ...BASE,
      subject: 'spiffe://b.org/x',
      header: { kid: undefined },
    });
    await rejectsWith(validate(bad, { source: both }), 'signature', bad);
  });

  it('rejects a token whose trust domain has no bundle, with reason no-bundle', async () => {
    const good = await a.mint({ subject: 'spiffe://a.org/x', audience: AUD, issuedAt: NOW });
    await validate(good, { source: both });
    const bad = await a.mintUnchecked({ ...BASE, subject: 'spiffe://c.org/x' });
    const err = await rejectsWith(validate(bad, { source: both }), 'no-bundle', bad, /"c.org"/);
    assert.equal((err.cause as Error).name, 'BundleNotFoundError');
  });

  it('rejects when the bundle source hands back the bundle of another trust domain', async () => {
    const liar: JwtBundleSource = { getJwtBundleForTrustDomain: () => a.jwtBundle() };
    const bad = await a.mintUnchecked({ ...BASE, subject: 'spiffe://b.org/x' });
    await rejectsWith(
      validate(bad, { source: liar }),
      'no-bundle',
      bad,
      /returned the bundle of "a.org"/,
    );
  });

  it('accepts a root-path subject (spiffe://a.org), like go-spiffe', async () => {
    const token = await a.mint({ subject: 'spiffe://a.org', audience: AUD, issuedAt: NOW });
    assert.equal((await validate(token, { source: both })).id.path, '');
  });
});

describe('audience', () => {
  it('accepts when aud contains the expected audience; rejects otherwise', async () => {
    const token = await mint({ audience: ['x', AUD] });
    await validate(token);
    await rejectsWith(
      validate(token, { audience: 'spiffe://example.org/other' }),
      'audience',
      token,
      /does not contain the expected audience \["spiffe:\/\/example.org\/other"\]/,
    );
    await rejectsWith(insecure(token, 'other'), 'audience', token);
  });

  it('with several expected audiences accepts ANY by default', async () => {
    const token = await mint({ audience: 'b' });
    await validate(token, { audience: ['a', 'b'] });
    await rejectsWith(
      validate(token, { audience: ['a', 'c'] }),
      'audience',
      token,
      /any of the expected audiences/,
    );
  });

  it('with requireAllAudiences requires ALL', async () => {
    const all = await mint({ audience: ['a', 'b', 'c'] });
    await validate(all, { audience: ['a', 'b'], requireAllAudiences: true });
    const some = await mint({ audience: ['b'] });
    await validate(some, { audience: ['a', 'b'] });
    await rejectsWith(
      validate(some, { audience: ['a', 'b'], requireAllAudiences: true }),
      'audience',
      some,
      /every one of the expected audiences/,
    );
  });

  it('matches audiences exactly (case and trailing slash matter)', async () => {
    const token = await mint({ audience: 'Reports' });
    await validate(token, { audience: 'Reports' });
    await rejectsWith(validate(token, { audience: 'reports' }), 'audience', token);
    await rejectsWith(validate(token, { audience: 'Reports/' }), 'audience', token);
  });

  it('treats an empty expected audience as a programming error', async () => {
    const token = await mint({});
    for (const audience of ['', [], [''], ['ok', ''], [7]] as unknown as string[]) {
      await assert.rejects(validate(token, { audience }), InvalidArgumentError);
      await assert.rejects(insecure(token, audience), InvalidArgumentError);
    }
  });
});

describe('clock (exp, nbf, iat) with tolerance', () => {
  const at = (seconds: number): Date => new Date(seconds * 1000);

  it('exp: accepted until exp + tolerance, rejected from then on (default tolerance 30 s)', async () => {
    const token = await mint({ issuedAt: NOW_S - 100, expiresAt: NOW_S });
    await validate(token, { now: at(NOW_S + 29.999) });
    await rejectsWith(
      validate(token, { now: at(NOW_S + 30) }),
      'expired',
      token,
      /expired at 2031-05-01T12:00:00.000Z/,
    );
  });

  it('exp: clockTolerance 0 and 120', async () => {
    const token = await mint({ issuedAt: NOW_S - 100, expiresAt: NOW_S });
    await validate(token, { now: at(NOW_S - 0.001), clockTolerance: 0 });
    await rejectsWith(validate(token, { now: at(NOW_S), clockTolerance: 0 }), 'expired', token);
    await validate(token, { now: at(NOW_S + 119), clockTolerance: 120 });
    await rejectsWith(
      validate(token, { now: at(NOW_S + 120), clockTolerance: 120 }),
      'expired',
      token,
    );
  });

  it('nbf: rejected until nbf - tolerance, accepted from then on', async () => {
    const token = await mint({ issuedAt: NOW_S, notBefore: NOW_S + 100, expiresAt: NOW_S + 1000 });
    await validate(token, { now: at(NOW_S + 70) });
    await rejectsWith(
      validate(token, { now: at(NOW_S + 69.999) }),
      'not-yet-valid',
      token,
      /not valid before/,
    );
    await rejectsWith(insecure(token), 'not-yet-valid', token);
  });

  it('iat: rejected when more than the tolerance in the future', async () => {
    const token = await mint({ issuedAt: NOW_S + 100, expiresAt: NOW_S + 1000 });
    await validate(token, { now: at(NOW_S + 70) });
    await rejectsWith(
      validate(token, { now: at(NOW_S + 69.999) }),
      'issued-in-future',
      token,
      /issued in the future/,
    );
  });

  it('nbf and iat are optional', async () => {
    const token = await mint({ claims: { iat: undefined } });
    await validate(token);
  });

  it('accepts fractional NumericDates', async () => {
    const token = await mint({ claims: { exp: NOW_S + 0.5 } });
    const svid = await validate(token, { clockTolerance: 0 });
    assert.equal(svid.expiry.getTime(), NOW.getTime() + 500);
    await rejectsWith(
      validate(token, { now: at(NOW_S + 0.5), clockTolerance: 0 }),
      'expired',
      token,
    );
  });

  it('rejects NumericDates that no Date can hold', async () => {
    const ok = await mint({ rawPayload: JSON.stringify({ sub: SUB, aud: AUD, exp: 8.64e12 }) });
    await validate(ok);
    const bad = await mint({ rawPayload: `{"sub":"${SUB}","aud":"${AUD}","exp":1e400}` });
    await rejectsWith(validate(bad), 'claim-type', bad, /out of range/);
    const big = await mint({
      rawPayload: JSON.stringify({ sub: SUB, aud: AUD, exp: 8.64e12 + 1 }),
    });
    await rejectsWith(validate(big), 'claim-type', big, /out of range/);
  });

  it('uses a clock function on every call', async () => {
    const token = await mint({ issuedAt: NOW_S, expiresAt: NOW_S + 10 });
    let now = NOW;
    const clock = (): Date => now;
    await parseAndValidateJwtSvid(token, bundle, AUD, { now: clock, clockTolerance: 0 });
    now = at(NOW_S + 10);
    await rejectsWith(
      parseAndValidateJwtSvid(token, bundle, AUD, { now: clock, clockTolerance: 0 }),
      'expired',
      token,
    );
  });

  it('rejects bad options as programming errors', async () => {
    const token = await mint({});
    for (const clockTolerance of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(validate(token, { clockTolerance }), InvalidArgumentError);
    }
    await assert.rejects(validate(token, { now: new Date(Number.NaN) }), InvalidArgumentError);
    await assert.rejects(
      parseAndValidateJwtSvid(token, bundle, AUD, { now: () => new Date('nope') }),
      InvalidArgumentError,
    );
  });
});

describe('what parseInsecureJwtSvid does not check', () => {
  it('accepts a token whose signature, key and bundle would all fail validation', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const token = await mint({
      subject: 'spiffe://nowhere.org/x',
      signer: { key: stranger, alg: 'ES256' },
      header: { kid: 'who' },
    });
    await rejectsWith(validate(token), 'no-bundle', token);
    const svid = await insecure(token);
    assert.equal(svid.id.toString(), 'spiffe://nowhere.org/x');
  });
});
