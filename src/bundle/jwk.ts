import {
  createHash,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  type X509Certificate,
} from 'node:crypto';
import { InvalidBundleError } from '../errors.js';
import { DecodeError, parseCertificateDer, splitDer } from '../internal/der.js';
import { type JsonObject, JsonParseError, type JsonValue, parseJson } from '../internal/json.js';
import { MAX_BUNDLE_DOCUMENT_DEPTH, MAX_BUNDLE_DOCUMENT_SIZE } from './limits.js';

/** EC curves by JWK name, with their coordinate size in bytes (RFC 7518 §6.2.1.2). */
const EC_CURVES = new Map([
  ['P-256', 32],
  ['P-384', 48],
  ['P-521', 66],
]);
/** node:crypto `namedCurve` → JWK `crv`. */
const NODE_CURVES = new Map([
  ['prime256v1', 'P-256'],
  ['secp384r1', 'P-384'],
  ['secp521r1', 'P-521'],
]);
/** JWK members that only private or secret keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** Smallest RSA modulus accepted in a bundle, in bits. */
export const MIN_RSA_BITS = 2048;
/** base64url without padding (RFC 7515 §2). */
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Standard base64 with padding (RFC 4648 §4), as `x5c` uses (RFC 7517 §4.7). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Throws if `jwk` has a private or secret key member. */
function assertPublicOnly(jwk: JsonObject, where: string): void {
  for (const member of PRIVATE_MEMBERS) {
    if (Object.hasOwn(jwk, member)) {
      throw new InvalidBundleError(
        `${where}: the key holds private key material ("${member}"); bundles carry public keys only`,
      );
    }
  }
}

/** `value` as a JSON string literal for messages, cut to 64 characters. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Whether `value` is a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses JSON text or UTF-8 bytes with the strict parser (duplicate member names rejected, integer
 * literals as exact bigints, bounded size and depth), wrapping failures as {@link InvalidBundleError}.
 */
export function parseJsonDocument(input: string | Uint8Array, what: string): JsonValue {
  try {
    return parseJson(input, {
      bigints: 'all',
      maxLength: MAX_BUNDLE_DOCUMENT_SIZE,
      maxDepth: MAX_BUNDLE_DOCUMENT_DEPTH,
    });
  } catch (err) {
    if (err instanceof JsonParseError) {
      throw new InvalidBundleError(`cannot parse ${what}: invalid JSON: ${err.message}`, {
        cause: err,
      });
    }
    throw err;
  }
}

function base64urlMember(jwk: JsonObject, name: string, where: string): Buffer {
  const value = jwk[name];
  if (typeof value !== 'string') {
    throw new InvalidBundleError(`${where}: "${name}" is missing or not a string`);
  }
  if (!BASE64URL.test(value) || value.length % 4 === 1) {
    throw new InvalidBundleError(`${where}: "${name}" is not unpadded base64url`);
  }
  return Buffer.from(value, 'base64url');
}

/**
 * Imports the public key of a JWK of a known `kty`. Returns `undefined` for an unknown `kty`, so
 * the caller skips the entry; throws {@link InvalidBundleError} for a malformed entry of a known
 * kind, and for any such entry that carries private key material (a bundle must never hold
 * secrets).
 *
 * node:crypto is lenient with JWKs (it ignores non-base64url characters, accepts zero-padded EC
 * coordinates and builds RSA keys from an empty modulus), so the members are checked here first.
 */
export function importJwkPublicKey(jwk: JsonObject, where: string): KeyObject | undefined {
  const kty = knownKeyType(jwk, where);
  return kty === undefined ? undefined : importKnownKey(jwk, kty, where);
}

/** {@link importJwkPublicKey} for a `kty` already known to be `EC`, `RSA` or `OKP`. */
function importKnownKey(jwk: JsonObject, kty: 'EC' | 'RSA' | 'OKP', where: string): KeyObject {
  assertPublicOnly(jwk, where);
  let members: JsonWebKey;
  if (kty === 'EC') {
    const crv = jwk['crv'];
    if (typeof crv !== 'string')
      throw new InvalidBundleError(`${where}: "crv" is missing or not a string`);
    const size = EC_CURVES.get(crv);
    if (size === undefined) {
      throw new InvalidBundleError(
        `${where}: unsupported EC curve ${quote(crv)}; expected P-256, P-384 or P-521`,
      );
    }
    const x = base64urlMember(jwk, 'x', where);
    const y = base64urlMember(jwk, 'y', where);
    if (x.length !== size || y.length !== size) {
      throw new InvalidBundleError(
        `${where}: ${crv} coordinates must be ${size} bytes each, got ${x.length} and ${y.length}`,
      );
    }
    members = { kty, crv, x: x.toString('base64url'), y: y.toString('base64url') };
  } else if (kty === 'OKP') {
    const crv = jwk['crv'];
    if (typeof crv !== 'string')
      throw new InvalidBundleError(`${where}: "crv" is missing or not a string`);
    if (crv !== 'Ed25519') {
      throw new InvalidBundleError(
        `${where}: unsupported OKP curve ${quote(crv)}; expected Ed25519`,
      );
    }
    const x = base64urlMember(jwk, 'x', where);
    if (x.length !== 32)
      throw new InvalidBundleError(`${where}: an Ed25519 key must be 32 bytes, got ${x.length}`);
    members = { kty, crv, x: x.toString('base64url') };
  } else {
    const n = base64urlMember(jwk, 'n', where);
    const e = base64urlMember(jwk, 'e', where);
    members = { kty, n: n.toString('base64url'), e: e.toString('base64url') };
  }
  let key: KeyObject;
  try {
    // node:crypto checks the remaining structure (for EC, that the point is on the curve).
    key = createPublicKey({ key: members, format: 'jwk' });
  } catch (err) {
    throw new InvalidBundleError(`${where}: invalid ${kty} key: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const problem = unsupportedKeyReason(key);
  if (problem !== undefined) throw new InvalidBundleError(`${where}: ${problem}`);
  return key;
}

/**
 * Why `key` cannot be a bundle authority, or `undefined` if it can: it must be a public EC key on
 * P-256/P-384/P-521, an RSA key of at least {@link MIN_RSA_BITS} bits with an odd exponent of at
 * least 3, or an Ed25519 key.
 */
export function unsupportedKeyReason(key: KeyObject): string | undefined {
  if (key.type !== 'public') return `expected a public key, not a ${key.type} key`;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      return NODE_CURVES.has(details.namedCurve ?? '')
        ? undefined
        : `unsupported EC curve ${details.namedCurve ?? 'unknown'}; expected P-256, P-384 or P-521`;
    case 'ed25519':
      return undefined;
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      const exponent = details.publicExponent ?? 0n;
      if (bits < MIN_RSA_BITS)
        return `RSA modulus of ${bits} bits is below the ${MIN_RSA_BITS}-bit minimum`;
      if (exponent < 3n || exponent % 2n === 0n)
        return `RSA public exponent ${exponent} is not an odd number of at least 3`;
      return undefined;
    }
    default:
      return `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}; expected EC, RSA or Ed25519`;
  }
}

/**
 * The public JWK members of a supported key, in a fixed order (`kty`, then `crv`, `x`, `y` or
 * `n`, `e`). Throws {@link InvalidBundleError} for a key that {@link unsupportedKeyReason} refuses.
 */
export function exportJwk(key: KeyObject, what: string): Record<string, string> {
  const problem = unsupportedKeyReason(key);
  if (problem !== undefined)
    throw new InvalidBundleError(`cannot write ${what} as a JWK: ${problem}`);
  const jwk = key.export({ format: 'jwk' });
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { kty: 'EC', crv: String(jwk.crv), x: String(jwk.x), y: String(jwk.y) };
    case 'ed25519':
      return { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) };
    default:
      return { kty: 'RSA', n: String(jwk.n), e: String(jwk.e) };
  }
}

/**
 * The public key of `cert`. node:crypto parses certificates lazily, so a certificate whose
 * SubjectPublicKeyInfo is malformed only fails here; the failure becomes an
 * {@link InvalidBundleError}.
 */
export function publicKeyOf(cert: X509Certificate, where: string): KeyObject {
  try {
    return cert.publicKey;
  } catch (err) {
    throw new InvalidBundleError(
      `${where}: the certificate's public key cannot be decoded: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Decodes one `x5c` value: standard base64 (RFC 7517 §4.7: not base64url) of exactly one DER
 * certificate.
 */
export function decodeX5cCertificate(value: JsonValue | undefined, where: string): X509Certificate {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw new InvalidBundleError(`${where}: not a base64 DER certificate`);
  }
  try {
    const parts = splitDer(Buffer.from(value, 'base64'));
    const [der] = parts;
    if (der === undefined || parts.length !== 1) {
      throw new InvalidBundleError(
        `${where}: expected one DER certificate, found ${parts.length} DER structures`,
      );
    }
    const cert = parseCertificateDer(der);
    publicKeyOf(cert, where);
    return cert;
  } catch (err) {
    if (err instanceof InvalidBundleError) throw err;
    // asn1js can throw plain errors on hostile DER, besides the decoder's own DecodeError.
    const reason =
      err instanceof DecodeError
        ? err.message
        : `malformed DER: ${err instanceof Error ? err.message : String(err)}`;
    throw new InvalidBundleError(`${where}: ${reason}`, { cause: err });
  }
}

/**
 * Checks that `cert` (the first `x5c` certificate of a JWK) carries the JWK's public key `key`,
 * and that the `x5t` and `x5t#S256` thumbprints, when present, are those of `cert`
 * (RFC 7517 §4.7-4.9).
 */
export function checkX5cBinding(
  jwk: JsonObject,
  key: KeyObject,
  cert: X509Certificate,
  where: string,
): void {
  if (!publicKeyOf(cert, where).equals(key)) {
    throw new InvalidBundleError(
      `${where}: the key members do not match the public key of the x5c certificate (RFC 7517 §4.7)`,
    );
  }
  for (const [member, algorithm] of [
    ['x5t', 'sha1'],
    ['x5t#S256', 'sha256'],
  ] as const) {
    if (jwk[member] === undefined) continue;
    const thumbprint = base64urlMember(jwk, member, where);
    if (!thumbprint.equals(createHash(algorithm).update(cert.raw).digest())) {
      throw new InvalidBundleError(
        `${where}: "${member}" is not the thumbprint of the x5c certificate`,
      );
    }
  }
}

/**
 * Reads the `kty` of an entry of a known `use`: the key type if this SDK knows it, `undefined`
 * (skip the entry, TD&B §4.2.1) for any other string; throws if `kty` is missing or not a string.
 */
function knownKeyType(entry: JsonObject, where: string): 'EC' | 'RSA' | 'OKP' | undefined {
  const kty = entry['kty'];
  if (typeof kty !== 'string')
    throw new InvalidBundleError(`${where}: "kty" is missing or not a string`);
  return kty === 'EC' || kty === 'RSA' || kty === 'OKP' ? kty : undefined;
}

/**
 * Reads one JWT authority from a JWKS entry that is meant for JWT-SVIDs. Returns `undefined` for
 * an entry of an unknown `kty` (skipped); otherwise the entry must be a well-formed public key
 * with a non-empty string `kid`, and an `x5c`, if present, must carry the same key.
 */
export function parseJwtAuthorityEntry(
  entry: JsonObject,
  where: string,
): [kid: string, key: KeyObject] | undefined {
  const key = importJwkPublicKey(entry, where);
  if (key === undefined) return undefined;
  const kid = entry['kid'];
  if (typeof kid !== 'string' || kid.length === 0) {
    throw new InvalidBundleError(`${where}: a JWT authority needs a non-empty string "kid"`);
  }
  const x5c = entry['x5c'];
  if (x5c !== undefined) {
    if (!Array.isArray(x5c))
      throw new InvalidBundleError(`${where}: "x5c" must be an array of certificates`);
    if (x5c.length > 0) {
      checkX5cBinding(entry, key, decodeX5cCertificate(x5c[0], `${where}: x5c[0]`), where);
    }
  }
  return [kid, key];
}

/**
 * Reads one X.509 authority from a SPIFFE bundle entry with `"use": "x509-svid"` (X509-SVID §6.2):
 * an entry of an unknown `kty`, or whose `x5c` is absent or empty, is skipped (`undefined`);
 * otherwise the first `x5c` value must be a DER certificate whose public key is the one the JWK
 * members describe (RFC 7517 §4.7), and later `x5c` values are ignored. `kid` is ignored.
 */
export function parseX509AuthorityEntry(
  entry: JsonObject,
  where: string,
): X509Certificate | undefined {
  const kty = knownKeyType(entry, where);
  if (kty === undefined) return undefined;
  assertPublicOnly(entry, where);
  const x5c = entry['x5c'];
  if (x5c === undefined) return undefined;
  if (!Array.isArray(x5c))
    throw new InvalidBundleError(`${where}: "x5c" must be an array of certificates`);
  if (x5c.length === 0) return undefined;
  const cert = decodeX5cCertificate(x5c[0], `${where}: x5c[0]`);
  checkX5cBinding(entry, importKnownKey(entry, kty, where), cert, where);
  return cert;
}
