// Shared fixtures for the bundle tests: keys from node:crypto, certificates from TestCA.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { SpiffeError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA } from '../../src/testing/index.js';

export const td = TrustDomain.parse('example.org');
export const otherTd = TrustDomain.parse('other.org');

export type KeyKind = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-2048' | 'ed25519';

const keyCache = new Map<string, { publicKey: KeyObject; privateKey: KeyObject }>();

/** A key pair of the given kind; `slot` gives distinct keys of one kind. Cached per process. */
export function keyPair(kind: KeyKind, slot = 0): { publicKey: KeyObject; privateKey: KeyObject } {
  const id = `${kind}/${slot}`;
  let pair = keyCache.get(id);
  if (pair === undefined) {
    switch (kind) {
      case 'ec-p256':
        pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        break;
      case 'ec-p384':
        pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
        break;
      case 'ec-p521':
        pair = generateKeyPairSync('ec', { namedCurve: 'P-521' });
        break;
      case 'rsa-2048':
        pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
        break;
      case 'ed25519':
        pair = generateKeyPairSync('ed25519');
        break;
    }
    keyCache.set(id, pair);
  }
  return pair;
}

/** The public key of {@link keyPair}. */
export function publicKey(kind: KeyKind = 'ec-p256', slot = 0): KeyObject {
  return keyPair(kind, slot).publicKey;
}

export type Json = Record<string, unknown>;

/** The public JWK members of `key`, as node:crypto writes them. */
export function jwkOf(key: KeyObject): Json {
  return { ...key.export({ format: 'jwk' }) };
}

/** A `jwt-svid` SPIFFE bundle entry. */
export function jwtEntry(kid: string, key: KeyObject = publicKey(), extra: Json = {}): Json {
  return { ...jwkOf(key), use: 'jwt-svid', kid, ...extra };
}

/** The standard-base64 DER of a certificate, as `x5c` holds it. */
export function b64(cert: X509Certificate): string {
  return cert.raw.toString('base64');
}

/** An `x509-svid` SPIFFE bundle entry for `cert`. */
export function x509Entry(cert: X509Certificate, extra: Json = {}): Json {
  return { ...jwkOf(cert.publicKey), use: 'x509-svid', x5c: [b64(cert)], ...extra };
}

/** A JWK Set document. */
export function doc(keys: unknown[], extra: Json = {}): string {
  return JSON.stringify({ keys, ...extra });
}

/** A CA certificate of the given key type for `trustDomain` (a fresh TestCA root). */
export async function caCertificate(
  keyType: 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519' = 'ec-p256',
  trustDomain: TrustDomain = td,
): Promise<X509Certificate> {
  const ca = await TestCA.create({ trustDomain, keyType });
  const [root] = ca.x509Authorities;
  assert.ok(root);
  return root;
}

/** Asserts that `fn` throws an instance of `type` whose message matches `message`. */
export function throwsWith(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  message: RegExp,
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

/** Asserts that `fn` either returns or throws a SpiffeError, never anything else. */
export function onlySpiffeErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SpiffeError, `a non-SDK error escaped: ${String(err)}`);
  }
}

/** Inputs for "throws only SpiffeError" properties: random text, JSON-ish text, random bytes. */
export const hostileInputs: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.string(),
  fc.json({ maxDepth: 4 }),
  fc
    .array(
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        ',',
        ':',
        '"keys"',
        '"use"',
        '"x509-svid"',
        '"jwt-svid"',
        '"kty"',
        '"EC"',
        '"RSA"',
        '"OKP"',
        '"crv"',
        '"P-256"',
        '"Ed25519"',
        '"x"',
        '"y"',
        '"n"',
        '"e"',
        '"kid"',
        '"x5c"',
        '"AQAB"',
        '"AAAA"',
        '"spiffe_sequence"',
        '"spiffe_refresh_hint"',
        '-1',
        '18446744073709551616',
        '1.5',
        'null',
        '"example.org"',
        '"spiffe://example.org"',
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join('')),
  fc.uint8Array({ maxLength: 200 }),
);

/**
 * A copy of `cert` with one byte changed so that node:crypto still parses the certificate but
 * cannot decode its public key (node:crypto parses the key lazily).
 */
export function withUndecodableKey(cert: X509Certificate): X509Certificate {
  for (let i = 0; i < cert.raw.length; i++) {
    const der = Buffer.from(cert.raw);
    der[i] = 0;
    let copy: X509Certificate;
    try {
      copy = new X509Certificate(der);
    } catch {
      continue;
    }
    try {
      assert.equal(copy.publicKey.type, 'public');
    } catch {
      return copy;
    }
  }
  throw new Error('no single-byte change makes the public key undecodable');
}
