import type { Duplex } from 'node:stream';
import http2 from 'node:http2';
import https from 'node:https';
import type tls from 'node:tls';
import { InvalidArgumentError } from '../errors.js';
import {
  type ClientMode,
  type ClientModeImpl,
  connectWith,
  requireClientMode,
} from './client-mode.js';
import type { Generation } from './material.js';
import { pickConnectionOptions, refuseClientOptions } from './options.js';

/**
 * Opens a TLS connection through `mode`, like `tls.connect(options, listener)`. The server is
 * verified before `'secureConnect'` and before any byte written early leaves the process; a
 * refusal destroys the socket with `X509SvidVerificationError` or `PeerUnauthorizedError`. Options
 * that would weaken this (`ca`, `checkServerIdentity`, `session`, `rejectUnauthorized: false`,
 * `secureContext`, …) throw `InvalidArgumentError`. `NODE_TLS_REJECT_UNAUTHORIZED=0` has no effect.
 *
 * @example
 * ```ts
 * const socket = connect(mtlsClient(source, authorizeId(serverId)), { host: '10.0.0.7', port: 8443 });
 * socket.on('secureConnect', () => console.log('server is', peerIdOf(socket)?.toString()));
 * ```
 */
export function connect(
  mode: ClientMode,
  options: tls.ConnectionOptions,
  secureConnectListener?: () => void,
): tls.TLSSocket {
  const impl = requireClientMode(mode, 'connect');
  refuseClientOptions(options, 'connect');
  const socket = connectWith(impl, { ...options });
  if (secureConnectListener !== undefined) socket.once('secureConnect', secureConnectListener);
  return socket;
}

/**
 * `http2.connect` through `mode`: the session's socket is verified like {@link connect}'s.
 *
 * @example
 * ```ts
 * const session = http2Connect(mode, 'https://api.internal:8443');
 * const req = session.request({ ':path': '/health' });
 * ```
 */
export function http2Connect(
  mode: ClientMode,
  authority: string | URL,
  options?: http2.SecureClientSessionOptions,
  listener?: (session: http2.ClientHttp2Session, socket: Duplex) => void,
): http2.ClientHttp2Session {
  const impl = requireClientMode(mode, 'http2Connect');
  const opts = impl.http2Options(options);
  return listener === undefined
    ? http2.connect(authority, opts)
    : http2.connect(authority, opts, listener);
}

/** The generation each agent socket was verified under. */
const socketGeneration = new WeakMap<object, Generation>();

/**
 * An `https.Agent` that connects through one client mode (one source and one authorizer): pooled
 * keep-alive sockets are only ever shared by requests with the same authorizer, TLS sessions are
 * never cached or resumed (`maxCachedSessions: 0`), and when the source removes trust (an
 * authority or a whole trust domain), idle pooled sockets are closed and busy ones are not reused,
 * so later requests connect and verify again. Use one agent per mode; close it when done.
 *
 * @example
 * ```ts
 * const agent = new SpiffeHttpsAgent(mtlsClient(source, authorizeId(apiId)), { keepAlive: true });
 * https.get('https://api.internal:8443/items', { agent }, (res) => res.pipe(process.stdout));
 * agent.close();
 * ```
 */
export class SpiffeHttpsAgent extends https.Agent implements AsyncDisposable {
  readonly #mode: ClientModeImpl;
  readonly #off: () => void;
  #trusted: Generation | undefined;
  #closed = false;

  /**
   * An agent for `mode`. `options` are `https.Agent` options (keep-alive, socket limits, …);
   * TLS material, verification and session options are refused.
   *
   * @example
   * ```ts
   * const agent = new SpiffeHttpsAgent(mode, { keepAlive: true, maxSockets: 16 });
   * ```
   */
  constructor(mode: ClientMode, options: https.AgentOptions = {}) {
    const impl = requireClientMode(mode, 'SpiffeHttpsAgent');
    refuseClientOptions(options, 'SpiffeHttpsAgent');
    if (options.maxCachedSessions !== undefined && options.maxCachedSessions !== 0) {
      throw new InvalidArgumentError(
        'SpiffeHttpsAgent: option "maxCachedSessions" is refused: a resumed TLS session skips server verification',
      );
    }
    super({ ...options, maxCachedSessions: 0 });
    this.#mode = impl;
    try {
      this.#trusted = impl.tracker.current();
    } catch {
      // Reported on the first request instead.
      this.#trusted = undefined;
    }
    this.#off = impl.tracker.subscribe(() => {
      this.#refresh();
    });
  }

  /** Follows the source: pre-builds the new context off the request path, drops stale sockets. */
  #refresh(): void {
    let gen: Generation;
    try {
      gen = this.#mode.tracker.current();
      this.#mode.context(gen);
    } catch {
      // Unusable material: requests fail (closed) until the source recovers.
      this.#dropAll();
      return;
    }
    const old = this.#trusted;
    this.#trusted = gen;
    if (old !== undefined && gen !== old && gen.removesTrustOf(old)) this.#dropAll();
  }

  #dropAll(): void {
    for (const list of Object.values(this.freeSockets)) {
      for (const socket of list ?? []) socket.destroy();
    }
    this.#trusted = undefined;
  }

  #stale(socket: object): boolean {
    const gen = socketGeneration.get(socket);
    if (gen === undefined) return true;
    const current = this.#trusted;
    return current === undefined || (current !== gen && current.removesTrustOf(gen));
  }

  /**
   * Connects through the agent's mode. Called by Node for each new pooled socket.
   *
   * @example
   * ```ts
   * // Not called directly; Node's http client calls it.
   * ```
   */
  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | undefined {
    try {
      if (this.#closed) throw new InvalidArgumentError('SpiffeHttpsAgent: the agent is closed');
      refuseClientOptions(options, 'SpiffeHttpsAgent request');
      const gen = this.#mode.tracker.current();
      this.#trusted ??= gen;
      const socket = connectWith(this.#mode, pickConnectionOptions(options));
      socketGeneration.set(socket, gen);
      return socket;
    } catch (err) {
      // Node turns this into the request's 'error' event.
      if (callback === undefined) throw err;
      callback(err instanceof Error ? err : new Error(String(err)), undefined as unknown as Duplex);
      return undefined;
    }
  }

  /**
   * Keeps a socket for reuse unless the trust it was verified under has since been reduced.
   *
   * @example
   * ```ts
   * // Not called directly; Node's http client calls it.
   * ```
   */
  override keepSocketAlive(socket: Duplex): boolean {
    if (this.#closed || this.#stale(socket)) return false;
    // Node's implementation returns whether the socket may be kept; @types/node says `void`.
    const base = https.Agent.prototype as unknown as {
      keepSocketAlive: (this: https.Agent, socket: Duplex) => unknown;
    };
    return base.keepSocketAlive.call(this, socket) !== false;
  }

  /**
   * Destroys every socket and stops following the source. Idempotent.
   *
   * @example
   * ```ts
   * agent.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#off();
    this.destroy();
  }

  /**
   * Same as {@link SpiffeHttpsAgent.close}.
   *
   * @example
   * ```ts
   * await using agent = new SpiffeHttpsAgent(mode);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
