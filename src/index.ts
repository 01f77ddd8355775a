/**
 * spiffe-sdk: the SPIFFE SDK for TypeScript and Node.js. This root module re-exports the public API
 * of every production layer; each layer is also importable on its own (`spiffe-sdk/spiffeid`,
 * `spiffe-sdk/bundle`, `spiffe-sdk/svid`, `spiffe-sdk/workloadapi`, `spiffe-sdk/tls`). The test
 * kit is only under `spiffe-sdk/testing`, so production code never loads it.
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
