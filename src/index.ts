/**
 * spiffe-sdk: the SPIFFE SDK for TypeScript and Node.js. This root module re-exports the public API
 * of every production layer; each layer is also importable on its own (`spiffe-sdk/spiffeid`,
 * `spiffe-sdk/bundle`, `spiffe-sdk/svid`, `spiffe-sdk/workloadapi`, `spiffe-sdk/tls`,
 * `spiffe-sdk/federation`, `spiffe-sdk/http`, `spiffe-sdk/grpc`). The Express and Fastify
 * adapters are only under `spiffe-sdk/express` and `spiffe-sdk/fastify`, so their type packages
 * are needed only by those who use them; the test kit is only under `spiffe-sdk/testing`, so
 * production code never loads it.
 *
 * @example
 * ```ts
 * import { X509Source, createHttpsServer, mtlsServer, authorizeMemberOf } from 'spiffe-sdk';
 *
 * const source = await X509Source.create();
 * const server = createHttpsServer(mtlsServer(source, authorizeMemberOf('example.org')), {}, handler);
 * ```
 *
 * @module spiffe-sdk
 */
export * from './errors.js';
export * from './spiffeid/index.js';
export * from './bundle/index.js';
export * from './svid/index.js';
export * from './workloadapi/index.js';
export * from './tls/index.js';
export * from './federation/index.js';
export * from './http/index.js';
export * from './grpc/index.js';
