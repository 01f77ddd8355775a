/**
 * SPIFFE TLS and mTLS for Node servers and clients (`tls`, `https`, `http2`, undici), with live
 * rotation of SVIDs and trust bundles: go-spiffe's `spiffetls` and `tlsconfig` for Node.
 *
 * Every connection is verified: OpenSSL checks the peer chain against the union of all trusted
 * authorities (a prefilter), then the SDK verifies the peer's X509-SVID against the bundle of the
 * peer's OWN trust domain only and runs the authorizer, before any application byte is sent to
 * (client) or read from (server) the peer. Sessions are never resumed unless a server opts into
 * identity-bound resumption. See docs/tls.md for the security model.
 *
 * @example
 * ```ts
 * import { createHttpsServer, mtlsServer, mtlsClient, SpiffeHttpsAgent, authorizeId,
 *   authorizeMemberOf, peerIdOf } from 'spiffe-sdk/tls';
 *
 * const server = createHttpsServer(mtlsServer(source, authorizeMemberOf('example.org')), {},
 *   (req, res) => res.end(`hello ${peerIdOf(req)?.toString()}`));
 * server.listen(8443);
 *
 * const agent = new SpiffeHttpsAgent(mtlsClient(source, authorizeId('spiffe://example.org/api')));
 * https.get('https://api.internal:8443/', { agent }, (res) => res.pipe(process.stdout));
 * ```
 *
 * @module tls
 */
export {
  type Authorizer,
  adaptMatcher,
  authorizeAny,
  authorizeId,
  authorizeMemberOf,
  authorizeOneOf,
} from './authorizer.js';
export {
  MutableX509Source,
  type SourceUpdates,
  staticX509Source,
  type X509MaterialSource,
  type X509TrustSource,
} from './source.js';
export { type TlsContextOptions, type TlsVersion } from './options.js';
export {
  type ClientMode,
  type ClientModeKind,
  type MtlsWebClientOptions,
  mtlsClient,
  mtlsWebClient,
  tlsClient,
} from './client-mode.js';
export {
  type ResumptionPolicy,
  type ServerMode,
  type ServerModeKind,
  type ServerModeOptions,
  type WebCertificate,
  mtlsServer,
  mtlsWebServer,
  tlsServer,
} from './server-mode.js';
export { connect, http2Connect, SpiffeHttpsAgent } from './client.js';
export {
  applyServerMode,
  createHttp2SecureServer,
  createHttpsServer,
  createTlsServer,
  type ServerModeLink,
} from './server.js';
export { peerIdOf } from './peers.js';
export {
  createUndiciDispatcher,
  type SpiffeUndiciDispatcher,
  type UndiciConnectOptions,
  type UndiciConnector,
  type UndiciConnectorOptions,
  type UndiciDispatcherOptions,
  undiciConnector,
} from './undici.js';
export {
  InvalidArgumentError,
  PeerUnauthorizedError,
  SpiffeError,
  TlsConfigurationError,
  X509SvidVerificationError,
} from '../errors.js';
