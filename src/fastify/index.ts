/**
 * A Fastify plugin for JWT-SVIDs in `Authorization: Bearer` (JWT-SVID §5.2, RFC 6750), built on
 * the authenticator of `spiffe-sdk/http`. Fastify is an optional peer dependency; this module
 * imports only its types. It adds `spiffe?: { id, svid }` to Fastify's `FastifyRequest` type.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { fastifyJwtSvidAuth } from 'spiffe-sdk/fastify';
 *
 * const app = Fastify();
 * await app.register(fastifyJwtSvidAuth, {
 *   bundleSource: jwtSource,
 *   audience: 'spiffe://example.org/reports',
 * });
 * app.get('/whoami', async (request) => ({ id: request.spiffe?.id.toString() }));
 * ```
 *
 * @module fastify
 */
export { fastifyJwtSvidAuth, type FastifyJwtSvidAuthOptions } from './plugin.js';
export { JwtSvidAuthError, type JwtSvidAuthFailure } from '../errors.js';
