/**
 * Express middleware for JWT-SVIDs in `Authorization: Bearer` (JWT-SVID §5.2, RFC 6750), built on
 * the authenticator of `spiffe-sdk/http`. Express is an optional peer dependency; this module
 * imports only its types. It adds `spiffe?: { id, svid }` to Express's `Request` type.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { jwtSvidAuth } from 'spiffe-sdk/express';
 * import { matchMemberOf, TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const app = express();
 * app.use(jwtSvidAuth({
 *   bundleSource: jwtSource,
 *   audience: 'spiffe://example.org/reports',
 *   authorize: matchMemberOf(TrustDomain.parse('example.org')),
 * }));
 * app.get('/whoami', (req, res) => res.json({ id: req.spiffe?.id.toString() }));
 * ```
 *
 * @module express
 */
export { jwtSvidAuth, type JwtSvidAuthMiddlewareOptions } from './middleware.js';
export { JwtSvidAuthError, type JwtSvidAuthFailure } from '../errors.js';
