import { constants, sign, type KeyObject } from 'node:crypto';

/**
 * Makes a JWS signature over `signingInput` for tokens that are wrong on purpose. The SDK itself
 * signs and verifies only with `jose`; this low-level signer exists because `mintUnchecked` must
 * produce what a correct JOSE library refuses to make (an `alg` that does not fit the key, RSA
 * keys below 2048 bits, headers such as `crit`), the way an attacker would.
 */
export function forgeJwsSignature(
  alg: string,
  key: KeyObject,
  signingInput: Uint8Array,
): Uint8Array {
  const family = alg.slice(0, 2);
  const hash = `sha${alg.slice(2)}`;
  switch (family) {
    case 'ES':
      // RFC 7518 §3.4: R || S (IEEE P1363), not DER.
      return sign(hash, signingInput, { key, dsaEncoding: 'ieee-p1363' });
    case 'RS':
      return sign(hash, signingInput, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'PS':
      // RFC 7518 §3.5: MGF1 with the same hash and a salt as long as the hash output.
      return sign(hash, signingInput, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    default:
      throw new RangeError(`cannot forge a signature for alg ${alg}`);
  }
}
