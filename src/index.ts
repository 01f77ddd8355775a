/**
 * spiffe-sdk: the SPIFFE SDK for TypeScript and Node.js. This root module re-exports the public API
 * of every layer; each layer is also importable on its own (`spiffe-sdk/spiffeid`, ...).
 *
 * @example
 * ```ts
 * import { SpiffeId, matchMemberOf, TrustDomain } from 'spiffe-sdk';
 *
 * matchMemberOf(TrustDomain.parse('example.org'))(SpiffeId.parse('spiffe://example.org/web')); // true
 * ```
 *
 * @module spiffe-sdk
 */
export * from './errors.js';
export * from './spiffeid/index.js';
