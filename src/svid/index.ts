/**
 * SPIFFE Verifiable Identity Documents: X509-SVIDs (parsing, marshalling, and chain verification
 * against trust bundles) and JWT-SVIDs.
 *
 * @example
 * ```ts
 * import { X509Svid, verifyX509Svid } from 'spiffe-sdk/svid';
 *
 * const svid = await X509Svid.load('svid.pem', 'svid.key');
 * const { id } = verifyX509Svid(peerCertificates, bundles);
 * ```
 *
 * @module svid
 */
export {
  X509Svid,
  type MarshaledRawX509Svid,
  type MarshaledX509Svid,
  type X509SvidJson,
  type X509SvidOptions,
} from './x509-svid.js';
export type { X509SvidSource } from './x509-svid-source.js';
export {
  MAX_X509_CHAIN_LENGTH,
  parseAndVerifyX509Svid,
  verifyX509Svid,
  type VerifiedX509Svid,
  type VerifyX509SvidOptions,
} from './verify-x509-svid.js';
export { InvalidX509SvidError, X509SvidVerificationError } from '../errors.js';
export { JwtSvid } from './jwt-svid.js';
export {
  parseAndValidateJwtSvid,
  parseInsecureJwtSvid,
  type JwtSvidValidationOptions,
} from './parse-jwt-svid.js';
export { JwtSvidValidator, type JwtSvidValidatorOptions } from './jwt-svid-validator.js';
export type { JwtSvidParams, JwtSvidSource } from './jwt-svid-source.js';
export { MAX_JWT_SVID_LENGTH } from './jwt-svid-checks.js';
export { JWT_SVID_ALGORITHMS, type JwtSvidAlgorithm } from './jwt-svid-algorithms.js';
export { InvalidArgumentError, InvalidJwtSvidError, type JwtSvidFailure } from '../errors.js';
