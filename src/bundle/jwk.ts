import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { InvalidBundleError } from '../errors.js';

/** The key types a SPIFFE bundle may carry; entries of any other `kty` are skipped. */
const KNOWN_KTY = new Set(['EC', 'RSA', 'OKP']);
const EC_CURVES = new Set(['P-256', 'P-384', 'P-521']);
const OKP_CURVES = new Set(['Ed25519']);
/** JWK members that only private keys have (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Whether `value` is a plain JSON object. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Imports the public key of a JWK of a known `kty`. Returns `undefined` for an unknown `kty`, so
 * the caller skips the entry; throws {@link InvalidBundleError} for a malformed entry of a known
 * kind, and for any entry that carries private key material (a bundle must never hold secrets).
 */
export function importJwkPublicKey(
  jwk: Record<string, unknown>,
  where: string,
): KeyObject | undefined {
  const kty = jwk['kty'];
  if (typeof kty !== 'string')
    throw new InvalidBundleError(`${where}: "kty" is missing or not a string`);
  if (!KNOWN_KTY.has(kty)) return undefined;
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) {
      throw new InvalidBundleError(
        `${where}: the key holds private key material ("${member}"); bundles carry public keys only`,
      );
    }
  }
  const crv = jwk['crv'];
  if (kty === 'EC' && (typeof crv !== 'string' || !EC_CURVES.has(crv))) {
    throw new InvalidBundleError(
      `${where}: unsupported EC curve ${JSON.stringify(crv)}; expected P-256, P-384 or P-521`,
    );
  }
  if (kty === 'OKP' && (typeof crv !== 'string' || !OKP_CURVES.has(crv))) {
    throw new InvalidBundleError(
      `${where}: unsupported OKP curve ${JSON.stringify(crv)}; expected Ed25519`,
    );
  }
  try {
    // node:crypto validates the members (and, for EC, that the point is on the curve).
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new InvalidBundleError(`${where}: invalid ${kty} key: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The public JWK members of `key` (no `kid`, `use` or other parameters). */
export function exportJwk(key: KeyObject): JsonWebKey {
  return key.export({ format: 'jwk' });
}

/** Parses JSON text or bytes into a value, wrapping syntax errors. */
export function parseJsonDocument(input: string | Uint8Array, what: string): unknown {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidBundleError(`cannot parse ${what}: invalid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
