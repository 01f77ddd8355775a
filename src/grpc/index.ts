/**
 * SPIFFE for `@grpc/grpc-js`: channel and server credentials that authenticate peers by their
 * X509-SVIDs with the tls layer's per-trust-domain verification and authorizers and follow SVID
 * and bundle rotation, a TLS front end that refuses unauthorized clients during the handshake,
 * JWT-SVID call credentials and a server interceptor that validates them, and helpers that give a
 * handler the caller's verified identity. go-spiffe's `spiffegrpc/grpccredentials` for Node.
 * See docs/integrations.md for the security model and the limits of grpc-js's API.
 *
 * @example
 * ```ts
 * import { Server } from '@grpc/grpc-js';
 * import { mtlsClientCredentials, mtlsServerCredentials, peerIdFromCall } from 'spiffe-sdk/grpc';
 * import { authorizeId, authorizeMemberOf } from 'spiffe-sdk/tls';
 *
 * // Server: any workload of example.org may call; the handler sees who called.
 * const server = new Server();
 * server.addService(Greeter.service, {
 *   hello: (call, callback) => callback(null, { text: `hi ${peerIdFromCall(call)?.toString()}` }),
 * });
 * server.bindAsync('0.0.0.0:8443', mtlsServerCredentials(x509Source, authorizeMemberOf('example.org')),
 *   (err) => { if (err) throw err; });
 *
 * // Client: only spiffe://example.org/greeter is accepted as the server.
 * const client = new Greeter('greeter.internal:8443',
 *   mtlsClientCredentials(x509Source, authorizeId('spiffe://example.org/greeter')));
 * ```
 *
 * @module grpc
 */
export {
  mtlsClientCredentials,
  type MtlsWebClientCredentialsOptions,
  mtlsWebClientCredentials,
  tlsClientCredentials,
} from './client-credentials.js';
export {
  type GrpcServerCredentialsOptions,
  mtlsServerCredentials,
  mtlsWebServerCredentials,
  tlsServerCredentials,
} from './server-credentials.js';
export { createGrpcTlsServer } from './tls-server.js';
export { type GrpcServerCall, peerIdFromCall, type RejectedCall } from './peer.js';
export {
  jwtSvidCallCredentials,
  jwtSvidFromCall,
  jwtSvidServerInterceptor,
  type JwtSvidServerInterceptorOptions,
} from './jwt.js';
export {
  InvalidArgumentError,
  JwtSvidAuthError,
  PeerUnauthorizedError,
  SpiffeError,
  TlsConfigurationError,
  X509SvidVerificationError,
} from '../errors.js';
