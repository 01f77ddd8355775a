import http2 from 'node:http2';
import type { RequestListener } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { InvalidArgumentError, TlsConfigurationError } from '../errors.js';
import type { Generation } from './material.js';
import { refuseServerOptions } from './options.js';
import { registerPeer, registerSession, verifiedPeerOf } from './peers.js';
import { requireServerMode, type ServerMode, type ServerModeImpl } from './server-mode.js';

/**
 * The link between a Node TLS server and a server mode, returned by {@link applyServerMode}. It
 * keeps the server's TLS context in step with the source. Closing it (or closing the server) ends
 * the subscription to the source; the connection guard stays in place, so the server keeps
 * refusing unauthorized clients.
 *
 * @example
 * ```ts
 * await using link = applyServerMode(server, mode);
 * ```
 */
export interface ServerModeLink extends AsyncDisposable {
  /** The mode applied to the server. */
  readonly mode: ServerMode;
  /** How many times the server's TLS context was replaced because the source changed. */
  readonly rotations: number;
  /** Stops following the source. Idempotent. */
  close(): void;
}

const linked = new WeakSet<tls.Server>();

/** Events that carry a request or stream of an already-accepted connection. */
const REQUEST_EVENTS = new Set<string | symbol>([
  'request',
  'checkContinue',
  'checkExpectation',
  'upgrade',
  'connect',
  'stream',
]);

function report(mode: ServerModeImpl, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  try {
    if (mode.onError !== undefined) mode.onError(error);
    else process.emitWarning(error);
  } catch {
    // A failing error hook must not break the server.
  }
}

function refused(mode: ServerModeImpl, err: unknown, socket: tls.TLSSocket): void {
  if (mode.onReject === undefined) return;
  try {
    mode.onReject(err instanceof Error ? err : new Error(String(err)), socket);
  } catch {
    // Ignored: see ServerModeOptions.onReject.
  }
}

function ownSymbolValue(obj: object, description: string): unknown {
  for (const sym of Object.getOwnPropertySymbols(obj)) {
    if (sym.description === description) return (obj as Record<symbol, unknown>)[sym];
  }
  return undefined;
}

function destroyCarrier(value: unknown): void {
  try {
    const v = value as {
      stream?: { session?: { destroy(): void }; close?(): void };
      session?: { destroy(): void };
      socket?: { destroy(): void };
      destroy?: () => void;
    };
    if (v.stream?.session !== undefined) v.stream.session.destroy();
    else if (v.session !== undefined) v.session.destroy();
    else if (v.socket !== undefined) v.socket.destroy();
    else v.destroy?.();
  } catch {
    // Already gone.
  }
}

function link(
  server: tls.Server,
  mode: ServerModeImpl,
  initial: Generation | undefined,
): ServerModeLink {
  if (linked.has(server)) {
    throw new InvalidArgumentError(
      'applyServerMode: a server mode is already applied to this server',
    );
  }
  if (server.listening) {
    throw new InvalidArgumentError(
      'applyServerMode: the server is already listening; apply the mode before listen() so that no connection escapes the guard',
    );
  }
  if (ownSymbolValue(server, 'snicallback') !== undefined) {
    throw new InvalidArgumentError(
      "applyServerMode: the server has an SNICallback, which would bypass the SDK's TLS context",
    );
  }
  if (ownSymbolValue(server, 'pskcallback') !== undefined) {
    throw new InvalidArgumentError(
      'applyServerMode: the server has a pskCallback; pre-shared keys would bypass certificate authentication',
    );
  }
  const internals = server as unknown as {
    _contexts?: unknown[];
    ticketKeys?: unknown;
    requestCert: boolean;
    rejectUnauthorized: boolean;
  };
  if (Array.isArray(internals._contexts) && internals._contexts.length > 0) {
    throw new InvalidArgumentError(
      "applyServerMode: the server has per-SNI contexts (addContext), which would bypass the SDK's TLS context",
    );
  }

  const setSecureContext = server.setSecureContext.bind(server);
  /** Installs `gen`; `constructed` when the server was just built from its options. */
  const install = (gen: Generation, constructed: boolean): void => {
    const options = mode.optionsFor(gen);
    // The COMPLETE option set every time: setSecureContext resets every option it is not given.
    if (!constructed) setSecureContext(options);
    if (gen.partialChain && mode.requestCert) {
      // Node's setSecureContext drops allowPartialTrustChain (it rebuilds the context from a fixed
      // list of options), so a bundle whose authority is an intermediate would reject every
      // client. Replace the context it built with one that treats every authority as an anchor.
      const shared = server as unknown as { _sharedCreds?: tls.SecureContext };
      if (!('_sharedCreds' in shared)) {
        throw new TlsConfigurationError(
          'a bundle authority is not self-signed and this Node version offers no way to trust it as an anchor on a server',
        );
      }
      shared._sharedCreds = tls.createSecureContext({
        ...options,
        allowPartialTrustChain: true,
      });
    }
  };
  let applied: Generation | undefined;
  let failed: Generation | undefined;
  let rotations = 0;
  const apply = (gen: Generation): void => {
    // A generation that failed to install is reported once, not on every connection.
    if (gen === applied || gen === failed) return;
    try {
      install(gen, false);
    } catch (err) {
      failed = gen;
      throw err;
    }
    rotations += 1;
    applied = gen;
  };

  // Fresh random ticket keys with every context: a rotation invalidates every ticket.
  internals.ticketKeys = undefined;
  internals.requestCert = mode.requestCert;
  internals.rejectUnauthorized = true;
  applied = initial ?? mode.tracker.current();
  install(applied, initial !== undefined);
  linked.add(server);

  server.setSecureContext = () => {
    throw new InvalidArgumentError(
      "setSecureContext: this server's TLS context is managed by spiffe-sdk (it follows the source); change the source instead",
    );
  };
  server.addContext = () => {
    throw new InvalidArgumentError(
      'addContext: per-SNI contexts would bypass the TLS context that spiffe-sdk manages',
    );
  };

  // The guard. Node emits 'secureConnection' from the handshake-done callback; https and http2
  // register their connection listener in the constructor, and on TLS 1.3 they start parsing the
  // request that arrived with the client's Finished as soon as that listener runs. Wrapping emit
  // (rather than adding a listener) makes the decision before ANY listener runs, whenever and
  // however it was added, and stops the event for refused sockets.
  const emit = server.emit.bind(server);
  server.emit = function guardedEmit(event: string | symbol, ...args: unknown[]) {
    if (event === 'secureConnection') {
      const socket = args[0] as tls.TLSSocket;
      let gen: Generation;
      try {
        gen = mode.tracker.current();
      } catch (err) {
        socket.destroy();
        refused(mode, err, socket);
        report(mode, err);
        return false;
      }
      try {
        apply(gen); // a source that changed without telling us
      } catch (err) {
        report(mode, err);
      }
      if (mode.requestCert) {
        try {
          registerPeer(socket, mode.authorize(socket, gen));
        } catch (err) {
          socket.destroy();
          refused(mode, err, socket);
          return false;
        }
      }
    } else if (mode.requestCert) {
      if (event === 'session') {
        // http2: the session runs on a socket the guard accepted; remember its peer.
        const session = args[0] as http2.ServerHttp2Session;
        const peer = verifiedPeerOf(session.socket);
        if (peer === undefined) {
          try {
            session.destroy();
          } catch {
            // Already gone.
          }
          return false;
        }
        registerSession(session, peer);
      } else if (REQUEST_EVENTS.has(event)) {
        // Defense in depth: a request whose connection the guard did not accept never reaches a
        // handler (for example a socket injected with server.emit('connection')).
        if (verifiedPeerOf(args[0]) === undefined) {
          destroyCarrier(args[0]);
          return false;
        }
      }
    }
    return emit(event, ...args);
  } as typeof server.emit;

  const off = mode.tracker.subscribe(() => {
    try {
      apply(mode.tracker.current());
    } catch (err) {
      report(mode, err);
    }
  });
  let open = true;
  const handle: ServerModeLink = {
    mode,
    get rotations() {
      return rotations;
    },
    close() {
      if (!open) return;
      open = false;
      off();
    },
    [Symbol.asyncDispose]() {
      handle.close();
      return Promise.resolve();
    },
  };
  server.once('close', () => {
    handle.close();
  });
  return handle;
}

/**
 * Puts a Node TLS server (`tls.Server`, `https.Server`, `http2.Http2SecureServer`) under a server
 * mode, before it listens: its TLS context is replaced by the mode's complete option set and
 * follows the source on every update; every connection is verified and authorized before any
 * `'secureConnection'` listener, http parser or request handler sees it; `setSecureContext` and
 * `addContext` are disabled. Servers with an `SNICallback`, a `pskCallback` or per-SNI contexts
 * are refused. The `create…Server` helpers call this for you.
 *
 * @example
 * ```ts
 * const server = https.createServer(mode.serverOptions(), handler);
 * const link = applyServerMode(server, mode);
 * server.listen(8443);
 * ```
 */
export function applyServerMode(server: tls.Server, mode: ServerMode): ServerModeLink {
  const impl = requireServerMode(mode, 'applyServerMode');
  if (!(server instanceof tls.Server)) {
    throw new InvalidArgumentError(
      'applyServerMode: expected a tls.Server, https.Server or Http2SecureServer',
    );
  }
  return link(server, impl, undefined);
}

function prepare(
  mode: ServerMode,
  options: object | undefined,
  what: string,
): { impl: ServerModeImpl; gen: Generation; options: Record<string, unknown> } {
  const impl = requireServerMode(mode, what);
  refuseServerOptions(options, what);
  const gen = impl.tracker.current();
  return { impl, gen, options: { ...options, ...impl.optionsFor(gen) } };
}

/**
 * A `tls.Server` under `mode` (see {@link applyServerMode}). `options` are the usual
 * `tls.createServer` options minus the ones the mode owns (certificates, trust, versions,
 * sessions; passing one throws `InvalidArgumentError`). The `listener` only ever sees verified,
 * authorized sockets.
 *
 * @example
 * ```ts
 * const server = createTlsServer(mtlsServer(source, authorizeAny()), {}, (socket) => {
 *   socket.end(`hello ${peerIdOf(socket)?.toString()}\n`);
 * });
 * server.listen(8443);
 * ```
 */
export function createTlsServer(
  mode: ServerMode,
  options?: tls.TlsOptions,
  secureConnectionListener?: (socket: tls.TLSSocket) => void,
): tls.Server {
  const p = prepare(mode, options, 'createTlsServer');
  const server = tls.createServer(p.options as tls.TlsOptions, secureConnectionListener);
  link(server, p.impl, p.gen);
  return server;
}

/**
 * An `https.Server` under `mode` (see {@link applyServerMode}). No request handler ever runs for a
 * connection the SDK refused, even when the request arrived in the same TLS 1.3 flight as the
 * client's Finished message.
 *
 * @example
 * ```ts
 * const server = createHttpsServer(mtlsServer(source, authorizeMemberOf('example.org')), {}, (req, res) => {
 *   res.end(`hello ${peerIdOf(req)?.toString()}`);
 * });
 * server.listen(8443);
 * ```
 */
export function createHttpsServer(
  mode: ServerMode,
  options?: https.ServerOptions,
  requestListener?: RequestListener,
): https.Server {
  const p = prepare(mode, options, 'createHttpsServer');
  const server = https.createServer(p.options as https.ServerOptions, requestListener);
  link(server, p.impl, p.gen);
  return server;
}

/**
 * An `http2.Http2SecureServer` under `mode` (see {@link applyServerMode}), with or without
 * `allowHTTP1`. Sessions, streams and compatibility requests only exist for verified,
 * authorized connections.
 *
 * @example
 * ```ts
 * const server = createHttp2SecureServer(mode, { allowHTTP1: true }, (req, res) => {
 *   res.end(`hello ${peerIdOf(req)?.toString()}`);
 * });
 * server.listen(8443);
 * ```
 */
export function createHttp2SecureServer(
  mode: ServerMode,
  options?: http2.SecureServerOptions,
  onRequest?: (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void,
): http2.Http2SecureServer {
  const p = prepare(mode, options, 'createHttp2SecureServer');
  const server =
    onRequest === undefined
      ? http2.createSecureServer(p.options as http2.SecureServerOptions)
      : http2.createSecureServer(p.options as http2.SecureServerOptions, onRequest);
  link(server, p.impl, p.gen);
  return server;
}
