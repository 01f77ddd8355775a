import type { KeyObject } from 'node:crypto';
import { compactVerify, errors } from 'jose';

/**
 * The JWS `alg` values a JWT-SVID may use (JWT-SVID §2.1: RFC 7518 §3.3 RSASSA-PKCS1-v1_5, §3.4
 * ECDSA and §3.5 RSASSA-PSS). Every other value, including `none`, `HS256` and `EdDSA`, is rejected.
 *
 * @example
 * ```ts
 * import type { JwtSvidAlgorithm } from 'spiffe-sdk/svid';
 *
 * const alg: JwtSvidAlgorithm = 'ES256';
 * ```
 */
export type JwtSvidAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'PS256' | 'PS384' | 'PS512';

/**
 * Every {@link JwtSvidAlgorithm}, in the order of the JWT-SVID standard's table.
 *
 * @example
 * ```ts
 * import { JWT_SVID_ALGORITHMS } from 'spiffe-sdk/svid';
 *
 * JWT_SVID_ALGORITHMS.includes('HS256' as never); // false
 * ```
 */
export const JWT_SVID_ALGORITHMS: readonly JwtSvidAlgorithm[] = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
]);

/**
 * RFC 7518 §3.3 and §3.5: "A key of size 2048 bits or larger MUST be used with these algorithms."
 */
const MIN_RSA_MODULUS_BITS = 2048;

/** The key an `alg` needs (RFC 7518 §3.3-3.5). */
interface AlgorithmSpec {
  readonly family: 'RS' | 'PS' | 'ES';
  /** ES only: the OpenSSL name of the curve (RFC 7518 §3.4). */
  readonly curve?: string;
}

const SPECS: Readonly<Record<JwtSvidAlgorithm, AlgorithmSpec>> = Object.freeze({
  RS256: { family: 'RS' },
  RS384: { family: 'RS' },
  RS512: { family: 'RS' },
  ES256: { family: 'ES', curve: 'prime256v1' },
  ES384: { family: 'ES', curve: 'secp384r1' },
  ES512: { family: 'ES', curve: 'secp521r1' },
  PS256: { family: 'PS' },
  PS384: { family: 'PS' },
  PS512: { family: 'PS' },
});

/** Whether `alg` is one of the nine JWT-SVID algorithms (own keys only: `__proto__` is not one). */
export function isJwtSvidAlgorithm(alg: unknown): alg is JwtSvidAlgorithm {
  return typeof alg === 'string' && Object.hasOwn(SPECS, alg);
}

interface KeyFacts {
  readonly type: string | undefined;
  readonly curve: string | undefined;
  readonly bits: number | undefined;
}

// asymmetricKeyDetails crosses into C++ on every read; a key's facts never change.
const keyFacts = new WeakMap<KeyObject, KeyFacts>();

function factsOf(key: KeyObject): KeyFacts {
  let facts = keyFacts.get(key);
  if (facts === undefined) {
    const details = key.asymmetricKeyDetails;
    facts = {
      type: key.asymmetricKeyType,
      curve: details?.namedCurve,
      bits: details?.modulusLength,
    };
    keyFacts.set(key, facts);
  }
  return facts;
}

const CURVE_NAMES: Readonly<Record<string, string>> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** A short, non-secret description of a key, for error messages: `an EC P-256 key`. */
export function describeKey(key: KeyObject): string {
  const { type, curve, bits } = factsOf(key);
  if (type === 'ec') return `an EC ${curve === undefined ? '' : (CURVE_NAMES[curve] ?? curve)} key`;
  if (type === 'rsa' || type === 'rsa-pss') return `a ${bits ?? '?'}-bit ${type.toUpperCase()} key`;
  return `an ${type ?? key.type} key`;
}

/**
 * Why `key` cannot verify (or make) `alg` signatures, or `undefined` when it can: RS needs an RSA
 * key, PS an RSA or RSA-PSS key, both of at least 2048 bits; ES256/384/512 need an EC key on
 * P-256/P-384/P-521 respectively.
 */
export function keyMismatch(alg: JwtSvidAlgorithm, key: KeyObject): string | undefined {
  const spec = SPECS[alg];
  const { type, curve, bits } = factsOf(key);
  switch (spec.family) {
    case 'ES':
      if (type === 'ec' && curve === spec.curve) return undefined;
      return `${alg} needs an EC ${CURVE_NAMES[spec.curve ?? ''] ?? ''} key`;
    case 'RS':
    case 'PS': {
      const typeOk = type === 'rsa' || (spec.family === 'PS' && type === 'rsa-pss');
      if (!typeOk) return `${alg} needs an RSA key`;
      if (bits === undefined || bits < MIN_RSA_MODULUS_BITS) {
        return `${alg} needs an RSA key of at least ${MIN_RSA_MODULUS_BITS} bits (RFC 7518)`;
      }
      return undefined;
    }
  }
}

/**
 * Verifies the token's JWS signature with `jose` (RFC 7515 §5.2), allowing only `alg`. The caller
 * has already checked {@link keyMismatch}. Resolves `false` when the signature does not verify;
 * rejects for anything else jose refuses.
 */
export async function verifyJwsSignature(
  token: string,
  alg: JwtSvidAlgorithm,
  key: KeyObject,
): Promise<boolean> {
  try {
    await compactVerify(token, key, { algorithms: [alg] });
    return true;
  } catch (err) {
    if (err instanceof errors.JWSSignatureVerificationFailed) return false;
    throw err;
  }
}

/** The key-generation parameters the testing kit uses for `alg`. */
export function keyGenerationParams(
  alg: JwtSvidAlgorithm,
): { type: 'ec'; namedCurve: string } | { type: 'rsa'; modulusLength: number } {
  const spec = SPECS[alg];
  return spec.family === 'ES'
    ? { type: 'ec', namedCurve: spec.curve ?? 'prime256v1' }
    : { type: 'rsa', modulusLength: MIN_RSA_MODULUS_BITS };
}
