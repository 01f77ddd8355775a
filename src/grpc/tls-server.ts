import type tls from 'node:tls';
import {
  experimental,
  type Server,
  ServerCredentials,
  type ServerInterceptingCallInterface,
} from '@grpc/grpc-js';
import { InvalidArgumentError, X509SvidVerificationError } from '../errors.js';
import type { SpiffeId } from '../spiffeid/index.js';
import { verifiedPeerOf } from '../tls/peers.js';
import { createTlsServer } from '../tls/server.js';
import { requireServerMode, type ServerMode } from '../tls/server-mode.js';
import { x509PeerInterceptor } from './peer.js';

/**
 * A `tls.Server` that serves a grpc-js `Server` under a server mode of the tls layer. The tls
 * layer does the TLS: every connection is verified and authorized during the handshake (the
 * client's X509-SVID against the bundle of its own trust domain, with intermediates, then the
 * authorizer), with the mode's rotation, resumption and `onReject` behaviour, before a single
 * byte reaches grpc-js; only then is the connection handed to the gRPC server through its
 * connection injector (`Server.createConnectionInjector`). A refused client never gets an
 * HTTP/2 session: its calls fail with `UNAVAILABLE`. Read the caller's ID with
 * {@link peerIdFromCall}.
 *
 * Use this instead of `server.bindAsync` + {@link mtlsServerCredentials} when clients have
 * X509-SVIDs with intermediates, or when unauthenticated clients must not reach HTTP/2 at all.
 * Listen and close it like any `tls.Server`; closing it also removes the injector. Shutting down
 * the gRPC server (`forceShutdown()` / `tryShutdown()`) ends the injected connections, but only
 * closing this server stops it from accepting new ones.
 *
 * @example
 * ```ts
 * import { Server } from '@grpc/grpc-js';
 * import { createGrpcTlsServer, peerIdFromCall } from 'spiffe-sdk/grpc';
 * import { authorizeMemberOf, mtlsServer } from 'spiffe-sdk/tls';
 *
 * const server = new Server();
 * server.addService(Greeter.service, {
 *   hello: (call, callback) => callback(null, { text: `hi ${peerIdFromCall(call)?.toString()}` }),
 * });
 * const listener = createGrpcTlsServer(server, mtlsServer(x509Source, authorizeMemberOf('example.org')));
 * listener.listen(8443);
 * // later:
 * server.forceShutdown();
 * listener.close();
 * ```
 */
export function createGrpcTlsServer(server: Server, mode: ServerMode): tls.Server {
  const impl = requireServerMode(mode, 'createGrpcTlsServer');
  if (
    typeof server !== 'object' ||
    (server as unknown) === null ||
    typeof server.createConnectionInjector !== 'function'
  ) {
    throw new InvalidArgumentError('createGrpcTlsServer: expected a @grpc/grpc-js Server');
  }
  // The verified peers of this server's open connections, by leaf fingerprint: the call's auth
  // context names the leaf its connection presented, and every connection was verified.
  const peers = new Map<string, { readonly id: SpiffeId; connections: number }>();
  const identify = (call: ServerInterceptingCallInterface): SpiffeId => {
    const fingerprint = call.getAuthContext().sslPeerCertificate?.fingerprint256;
    const entry = fingerprint === undefined ? undefined : peers.get(fingerprint);
    if (entry === undefined) {
      throw new X509SvidVerificationError('the connection of this call was not verified');
    }
    return entry.id;
  };
  // The injected connections are already TLS: grpc-js serves them as plain HTTP/2.
  const injector = server.createConnectionInjector(
    experimental.createServerCredentialsWithInterceptors(
      ServerCredentials.createInsecure(),
      impl.requestCert ? [x509PeerInterceptor(identify, undefined)] : [],
    ),
  );
  const tlsServer = createTlsServer(mode, { ALPNProtocols: ['h2'] }, (socket) => {
    const peer = verifiedPeerOf(socket);
    if (peer !== undefined) {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      const entry = peers.get(fingerprint) ?? { id: peer.id, connections: 0 };
      entry.connections += 1;
      peers.set(fingerprint, entry);
      socket.once('close', () => {
        entry.connections -= 1;
        if (entry.connections === 0) peers.delete(fingerprint);
      });
    }
    injector.injectConnection(socket);
  });
  tlsServer.once('close', () => {
    injector.destroy();
  });
  return tlsServer;
}
