// undici is an optional peer dependency: this module only imports its types statically (erased
// at compile time) and loads the package itself with a dynamic import, so spiffe-sdk works
// without undici installed as long as createUndiciDispatcher is not called.
import net from 'node:net';
import type tls from 'node:tls';
import type { Dispatcher } from 'undici';
import { InvalidArgumentError } from '../errors.js';
import { type ClientMode, connectWith, requireClientMode } from './client-mode.js';
import type { Generation } from './material.js';

/**
 * Options of {@link undiciConnector}.
 *
 * @example
 * ```ts
 * const connector = undiciConnector(mode, { allowH2: true, connectTimeout: 5_000 });
 * ```
 */
export interface UndiciConnectorOptions {
  /** Offer HTTP/2 through ALPN (undici's `allowH2`; default false). */
  readonly allowH2?: boolean;
  /** Milliseconds until a connection attempt that has not completed its handshake fails (default 10 000). */
  readonly connectTimeout?: number;
}

/**
 * What undici passes to a connector function (its `buildConnector.Options`).
 *
 * @example
 * ```ts
 * connector({ hostname: 'api.internal', protocol: 'https:', port: '8443' }, (err, socket) => {});
 * ```
 */
export interface UndiciConnectOptions {
  /** The origin's host name or IP address (IPv6 in brackets). */
  readonly hostname: string;
  /** The origin's host with port, as in the URL. */
  readonly host?: string;
  /** The origin's protocol; only `https:` is accepted. */
  readonly protocol: string;
  /** The origin's port, `''` for the protocol's default. */
  readonly port: string;
  /** The SNI server name undici chose, if any. */
  readonly servername?: string;
  /** The local address to bind to, if any. */
  readonly localAddress?: string | null;
  /** An already connected socket to run TLS over (a proxy tunnel). */
  readonly httpSocket?: unknown;
}

/**
 * An undici connector function (the `connect` option of undici's `Client`, `Pool` and `Agent`).
 *
 * @example
 * ```ts
 * const connect: UndiciConnector = undiciConnector(mode);
 * const pool = new Pool('https://api.internal:8443', { connect });
 * ```
 */
export type UndiciConnector = (
  options: UndiciConnectOptions,
  callback: (...args: [null, tls.TLSSocket] | [Error, null]) => void,
) => void;

function connectTimeout(value: number | undefined, what: string): number {
  const ms = value ?? 10_000;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new InvalidArgumentError(
      `${what}: connectTimeout must be a positive number of milliseconds`,
    );
  }
  return ms;
}

/**
 * An undici connector that opens every connection through `mode`: the server is verified on every
 * connection, no TLS session is cached or resumed, and only `https:` origins are accepted. Use it
 * as the `connect` option of your own undici `Agent`, `Pool` or `Client`; or use
 * {@link createUndiciDispatcher}, which also replaces its pool when trust is removed.
 *
 * @example
 * ```ts
 * import { Agent, fetch } from 'undici';
 * const dispatcher = new Agent({ connect: undiciConnector(mtlsClient(source, authorizeId(apiId))) });
 * const res = await fetch('https://api.internal:8443/items', { dispatcher });
 * ```
 */
export function undiciConnector(
  mode: ClientMode,
  options: UndiciConnectorOptions = {},
): UndiciConnector {
  const impl = requireClientMode(mode, 'undiciConnector');
  const timeout = connectTimeout(options.connectTimeout, 'undiciConnector');
  const alpn = options.allowH2 === true ? ['h2', 'http/1.1'] : ['http/1.1'];
  return (opts, callback) => {
    if (opts.protocol !== 'https:') {
      callback(
        new InvalidArgumentError(
          `undiciConnector: only https: origins can be reached through a SPIFFE mode (got "${opts.protocol}")`,
        ),
        null,
      );
      return;
    }
    const host = opts.hostname.startsWith('[') ? opts.hostname.slice(1, -1) : opts.hostname;
    const servername =
      opts.servername !== undefined && opts.servername !== ''
        ? opts.servername
        : net.isIP(host) === 0
          ? host
          : undefined;
    let socket: tls.TLSSocket;
    try {
      socket = connectWith(impl, {
        host,
        port: opts.port === '' ? 443 : Number(opts.port),
        ...(servername === undefined ? {} : { servername }),
        ...(opts.localAddress == null ? {} : { localAddress: opts.localAddress }),
        ...(opts.httpSocket === undefined ? {} : { socket: opts.httpSocket }),
        ALPNProtocols: alpn,
        highWaterMark: 16384,
      });
    } catch (err) {
      callback(err instanceof Error ? err : new Error(String(err)), null);
      return;
    }
    let pending = true;
    const finish = (err: Error | null): void => {
      if (!pending) return;
      pending = false;
      clearTimeout(timer);
      if (err === null) callback(null, socket);
      else callback(err, null);
    };
    const timer = setTimeout(() => {
      const err = Object.assign(
        new Error(`connect timeout after ${timeout} ms (${host}:${opts.port || '443'})`),
        { code: 'UND_ERR_CONNECT_TIMEOUT' },
      );
      socket.destroy(err);
      finish(err);
    }, timeout);
    timer.unref();
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      finish(null);
    });
    socket.on('error', (err: Error) => {
      finish(err);
    });
  };
}

/**
 * Options of {@link createUndiciDispatcher}.
 *
 * @example
 * ```ts
 * const dispatcher = await createUndiciDispatcher(mode, { agent: { connections: 8 } });
 * ```
 */
export interface UndiciDispatcherOptions extends UndiciConnectorOptions {
  /**
   * Options for the undici `Agent` behind the dispatcher (pool sizes, timeouts, …). `connect` and
   * `factory` are refused: the dispatcher owns how connections are made.
   */
  readonly agent?: Readonly<Record<string, unknown>>;
}

/**
 * An undici dispatcher bound to one client mode; see {@link createUndiciDispatcher}. `close()`
 * waits for running requests and leaves no handle behind.
 *
 * @example
 * ```ts
 * await using dispatcher = await createUndiciDispatcher(mode);
 * await fetch('https://api.internal:8443/', { dispatcher });
 * ```
 */
export interface SpiffeUndiciDispatcher extends Dispatcher, AsyncDisposable {
  /** How many times the connection pool was replaced because trust was removed. */
  readonly replacements: number;
}

/**
 * An undici dispatcher for `fetch` and `request` that connects through `mode` (see
 * {@link undiciConnector}). When the source removes trust (an authority or a whole trust domain),
 * the dispatcher swaps in a fresh connection pool and closes the old one gracefully, so no later
 * request reuses a connection verified under the removed trust. Loads `undici` on first use; it
 * must be installed (it is an optional peer dependency). Use `fetch` from the `undici` package:
 * Node's built-in `fetch` may bundle a different undici major.
 *
 * @example
 * ```ts
 * import { fetch } from 'undici';
 * const dispatcher = await createUndiciDispatcher(mtlsClient(source, authorizeId(apiId)));
 * const res = await fetch('https://api.internal:8443/items', { dispatcher });
 * await dispatcher.close();
 * ```
 */
export async function createUndiciDispatcher(
  mode: ClientMode,
  options: UndiciDispatcherOptions = {},
): Promise<SpiffeUndiciDispatcher> {
  const impl = requireClientMode(mode, 'createUndiciDispatcher');
  const agentOptions = options.agent ?? {};
  for (const key of ['connect', 'factory']) {
    if (agentOptions[key] !== undefined) {
      throw new InvalidArgumentError(`createUndiciDispatcher: agent option "${key}" is refused`);
    }
  }
  const connector = undiciConnector(mode, options);
  let undici: typeof import('undici');
  try {
    undici = await import('undici');
  } catch (err) {
    throw new InvalidArgumentError(
      'createUndiciDispatcher: the optional peer dependency "undici" is not installed',
      { cause: err },
    );
  }
  const makeAgent = (): Dispatcher => new undici.Agent({ ...agentOptions, connect: connector });

  class SpiffeDispatcher extends undici.Dispatcher implements SpiffeUndiciDispatcher {
    #inner = makeAgent();
    readonly #retiring = new Set<Promise<void>>();
    readonly #off: () => void;
    #trusted: Generation | undefined;
    #replacements = 0;
    #closed = false;

    constructor() {
      super();
      try {
        this.#trusted = impl.tracker.current();
      } catch {
        this.#trusted = undefined;
      }
      this.#off = impl.tracker.subscribe(() => {
        this.#refresh();
      });
    }

    get replacements(): number {
      return this.#replacements;
    }

    #refresh(): void {
      if (this.#closed) return;
      let gen: Generation | undefined;
      try {
        gen = impl.tracker.current();
        impl.context(gen); // build the new context now, off the request path
      } catch {
        gen = undefined;
      }
      const old = this.#trusted;
      this.#trusted = gen;
      if (old === undefined || gen === undefined || (gen !== old && gen.removesTrustOf(old))) {
        this.#replace();
      }
    }

    #replace(): void {
      const old = this.#inner;
      this.#inner = makeAgent();
      this.#replacements += 1;
      const done = old.close().catch(() => undefined);
      this.#retiring.add(done);
      void done.then(() => this.#retiring.delete(done));
    }

    override dispatch(
      opts: Dispatcher.DispatchOptions,
      handler: Dispatcher.DispatchHandler,
    ): boolean {
      return this.#inner.dispatch(opts, handler);
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | undefined {
      this.#closed = true;
      this.#off();
      const all = Promise.all([this.#inner.close(), ...this.#retiring]).then(() => undefined);
      if (callback === undefined) return all;
      void all.then(callback, callback);
      return undefined;
    }

    override destroy(err?: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | undefined {
      this.#closed = true;
      this.#off();
      const err = typeof a === 'function' ? null : (a ?? null);
      const callback = typeof a === 'function' ? a : b;
      const all = Promise.all([this.#inner.destroy(err), ...this.#retiring]).then(() => undefined);
      if (callback === undefined) return all;
      void all.then(callback, callback);
      return undefined;
    }

    [Symbol.asyncDispose](): Promise<void> {
      return this.close();
    }
  }

  return new SpiffeDispatcher();
}
