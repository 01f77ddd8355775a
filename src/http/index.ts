/**
 * SPIFFE identities over HTTP. JWT-SVIDs as `Authorization: Bearer` tokens (JWT-SVID §5.2,
 * RFC 6750): a framework-neutral server-side authenticator, a `node:http` wrapper, and client
 * helpers that attach a JWT-SVID from a `JwtSource` to outgoing requests (Express and Fastify
 * adapters live in `spiffe-sdk/express` and `spiffe-sdk/fastify`). Also the
 * `x-forwarded-client-cert` (XFCC) header of a TLS-terminating proxy.
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { createJwtSvidAuthenticator, jwtSvidFetch, jwtSvidOf, withJwtSvidAuth } from 'spiffe-sdk/http';
 *
 * // Server
 * const auth = createJwtSvidAuthenticator({ bundleSource: jwtSource, audience: 'spiffe://example.org/api' });
 * https.createServer(tls, withJwtSvidAuth(auth, (req, res) => res.end(`hi ${jwtSvidOf(req)?.id}`)));
 *
 * // Client
 * const apiFetch = jwtSvidFetch(jwtSource, { audience: 'spiffe://example.org/api' });
 * await apiFetch('https://api.internal/items');
 * ```
 *
 * @module http
 */
export {
  createJwtSvidAuthenticator,
  type JwtSvidAuthenticator,
  type JwtSvidAuthenticatorOptions,
  type JwtSvidAuthorizer,
  type JwtSvidAuthResult,
} from './authenticator.js';
export type { RequestHeaders } from './bearer.js';
export { jwtSvidOf, withJwtSvidAuth, type WithJwtSvidAuthOptions } from './node.js';
export {
  type FetchFunction,
  jwtSvidAuthorization,
  jwtSvidFetch,
  type JwtSvidFetchOptions,
} from './client.js';
export {
  InvalidArgumentError,
  InvalidJwtSvidError,
  JwtSvidAuthError,
  type JwtSvidAuthFailure,
} from '../errors.js';
export {
  formatXfcc,
  MAX_XFCC_ELEMENTS,
  MAX_XFCC_LENGTH,
  MAX_XFCC_PAIRS,
  parseXfcc,
  type XfccElement,
} from './xfcc.js';
export {
  createXfccPeerIdReader,
  type XfccPeerIdOptions,
  type XfccPeerIdReader,
  type XfccRequest,
} from './xfcc-peer.js';
export { XfccError, type XfccFailure } from '../errors.js';
