import type { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type http2 from 'node:http2';
import type https from 'node:https';
import net from 'node:net';
import { InvalidArgumentError, X509SvidVerificationError } from '../errors.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';
import { type Authorizer, runAuthorizer } from './authorizer.js';
import { certificatePem, type Generation, MaterialTracker } from './material.js';
import {
  type ContextSettings,
  contextSettingsOptions,
  pickConnectionOptions,
  refuseClientOptions,
  resolveContextOptions,
  SSL_OP_NO_RENEGOTIATION,
  SSL_OP_NO_TICKET,
  type TlsContextOptions,
} from './options.js';
import { registerPeer } from './peers.js';
import type { SourceUpdates, X509MaterialSource, X509TrustSource } from './source.js';
import { chainFromLegacy, type VerifiedPeer } from './verifier.js';

/**
 * The kind of a client mode (go-spiffe's TLSClient, MTLSClient and MTLSWebClient).
 *
 * @example
 * ```ts
 * if (mode.kind === 'mtls-web-client') console.log('the server is authenticated with the Web PKI');
 * ```
 */
export type ClientModeKind = 'tls-client' | 'mtls-client' | 'mtls-web-client';

/**
 * How a client connects: which identity it presents and how it authenticates the server. Made by
 * {@link tlsClient}, {@link mtlsClient} or {@link mtlsWebClient}; used by {@link connect},
 * {@link SpiffeHttpsAgent}, {@link http2Connect}, the undici dispatcher, and the option builders
 * below. A mode reads its source on every new connection, so rotation needs nothing extra: new
 * connections use the new SVID and bundles, existing ones keep working.
 *
 * @example
 * ```ts
 * const mode = mtlsClient(source, authorizeId('spiffe://example.org/api'));
 * const socket = connect(mode, { host: 'api.internal', port: 8443 });
 * ```
 */
export interface ClientMode {
  /** Which go-spiffe mode this is. */
  readonly kind: ClientModeKind;
  /**
   * Complete options for `tls.connect`: the mode's cached `secureContext` (read when the
   * connection starts, so a kept options object follows rotation), `rejectUnauthorized: true`,
   * `session: undefined`, and the SDK's `checkServerIdentity`. Prefer {@link connect}, which also
   * fails closed on a resumed session and records {@link peerIdOf}. Refused options throw
   * `InvalidArgumentError`.
   *
   * @example
   * ```ts
   * const socket = tls.connect({ ...mode.tlsOptions(), host: 'api.internal', port: 8443 });
   * ```
   */
  tlsOptions(options?: tls.ConnectionOptions): tls.ConnectionOptions;
  /**
   * Options for `https.request` / `https.get`: a `createConnection` that connects through this
   * mode and no agent (so never `https.globalAgent`, no pooling, no session cache). For pooled
   * keep-alive connections use a {@link SpiffeHttpsAgent} instead.
   *
   * @example
   * ```ts
   * https.get('https://api.internal:8443/health', mode.httpsOptions(), (res) => res.resume());
   * ```
   */
  httpsOptions(options?: https.RequestOptions): https.RequestOptions;
  /**
   * Options for `http2.connect`: a `createConnection` that connects through this mode with ALPN
   * `h2`.
   *
   * @example
   * ```ts
   * const session = http2.connect('https://api.internal:8443', mode.http2Options());
   * ```
   */
  http2Options(options?: http2.SecureClientSessionOptions): http2.SecureClientSessionOptions;
}

/**
 * Options of {@link mtlsWebClient}.
 *
 * @example
 * ```ts
 * const options: MtlsWebClientOptions = { roots: [corporateRoot], minVersion: 'TLSv1.3' };
 * ```
 */
export interface MtlsWebClientOptions extends TlsContextOptions {
  /**
   * The Web PKI roots that authenticate the server (certificates or PEM text). Default: Node's
   * default roots (the bundled Mozilla store plus `NODE_EXTRA_CA_CERTS`). An empty list is
   * refused.
   */
  readonly roots?: readonly (X509Certificate | string)[];
}

type SvidSource = X509SvidSource & SourceUpdates;

/** The implementation of {@link ClientMode}; internal. */
export class ClientModeImpl implements ClientMode {
  readonly kind: ClientModeKind;
  readonly tracker: MaterialTracker;
  readonly authorizer: Authorizer | undefined;
  readonly #settings: ContextSettings;
  readonly #roots: readonly string[] | undefined;
  readonly #contexts = new WeakMap<Generation, tls.SecureContext>();

  constructor(
    kind: ClientModeKind,
    source: X509TrustSource | X509MaterialSource | SvidSource,
    authorizer: Authorizer | undefined,
    options: MtlsWebClientOptions | undefined,
  ) {
    const what =
      kind === 'tls-client' ? 'tlsClient' : kind === 'mtls-client' ? 'mtlsClient' : 'mtlsWebClient';
    if (kind !== 'mtls-web-client' && typeof authorizer !== 'function') {
      throw new InvalidArgumentError(`${what}: the authorizer must be a function`);
    }
    this.kind = kind;
    this.authorizer = authorizer;
    this.#settings = resolveContextOptions(options, what);
    this.#roots = kind === 'mtls-web-client' ? webRoots(options?.roots, what) : undefined;
    this.tracker = new MaterialTracker(
      source,
      kind !== 'tls-client',
      kind !== 'mtls-web-client',
      what,
    );
    Object.freeze(this);
  }

  /** Whether the server is authenticated with SPIFFE (not the Web PKI). */
  get spiffe(): boolean {
    return this.kind !== 'mtls-web-client';
  }

  /** The cached SecureContext of `gen` (one per generation, never one per connection). */
  context(gen: Generation): tls.SecureContext {
    let ctx = this.#contexts.get(gen);
    if (ctx === undefined) {
      const options: Record<string, unknown> = {
        ...contextSettingsOptions(this.#settings),
        secureOptions: SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | this.#settings.secureOptions,
      };
      if (gen.svidPem !== undefined) {
        options['key'] = gen.svidPem.key;
        options['cert'] = gen.svidPem.cert;
      }
      if (this.spiffe) {
        options['ca'] = gen.caPem;
        // Every bundle authority is a trust anchor, self-signed or not (as in go-spiffe, whose
        // verifier puts them all in the roots pool).
        options['allowPartialTrustChain'] = true;
      } else if (this.#roots !== undefined) options['ca'] = this.#roots;
      ctx = tls.createSecureContext(options);
      this.#contexts.set(gen, ctx);
    }
    return ctx;
  }

  /**
   * The `checkServerIdentity` of one connection. It never throws (a throw inside Node's handshake
   * callback becomes an uncaughtException and a hung socket); it returns the error instead.
   */
  checker(holder: {
    peer?: VerifiedPeer;
  }): (host: string, cert: tls.PeerCertificate) => Error | undefined {
    if (!this.spiffe) return tls.checkServerIdentity;
    return (_host, cert) => {
      try {
        const gen = this.tracker.current();
        const verifier = gen.verifier;
        if (verifier === undefined) throw new X509SvidVerificationError('no trust bundles');
        const { raw, fingerprint256 } = chainFromLegacy(cert);
        const now = Date.now();
        const peer =
          verifier.lookup(fingerprint256, now) ?? verifier.verifyRaw(raw, fingerprint256, now);
        runAuthorizer(this.authorizer ?? denyAll, peer.id, peer.verifiedChains);
        holder.peer = peer;
        return undefined;
      } catch (err) {
        return toError(err);
      }
    };
  }

  tlsOptions(options: tls.ConnectionOptions = {}): tls.ConnectionOptions {
    refuseClientOptions(options, `${this.kind} tlsOptions`);
    const holder: { peer?: VerifiedPeer } = {};
    const out: Record<string, unknown> = {
      ...options,
      rejectUnauthorized: true,
      session: undefined,
      checkServerIdentity: this.checker(holder),
    };
    // A getter, so that an options object kept across a rotation picks up the new context.
    Object.defineProperty(out, 'secureContext', {
      enumerable: true,
      get: () => this.context(this.tracker.current()),
    });
    return out;
  }

  httpsOptions(options: https.RequestOptions = {}): https.RequestOptions {
    refuseClientOptions(options, `${this.kind} httpsOptions`);
    if (options.agent !== undefined) {
      throw new InvalidArgumentError(
        `${this.kind} httpsOptions: option "agent" is refused: the options connect by themselves; use a SpiffeHttpsAgent for pooling`,
      );
    }
    if (options.createConnection !== undefined) {
      throw new InvalidArgumentError(
        `${this.kind} httpsOptions: option "createConnection" is refused`,
      );
    }
    return {
      ...options,
      defaultPort: options.defaultPort ?? 443,
      agent: undefined,
      createConnection: (opts: object): Duplex => {
        refuseClientOptions(opts, `${this.kind} https request`);
        return connectWith(this, withServername(pickConnectionOptions(opts)));
      },
    };
  }

  http2Options(options: http2.SecureClientSessionOptions = {}): http2.SecureClientSessionOptions {
    refuseClientOptions(options, `${this.kind} http2Options`);
    if (options.createConnection !== undefined) {
      throw new InvalidArgumentError(
        `${this.kind} http2Options: option "createConnection" is refused`,
      );
    }
    return {
      ...options,
      createConnection: (authority: URL, opts: object): Duplex => {
        refuseClientOptions(opts, `${this.kind} http2 session`);
        const picked = pickConnectionOptions(opts);
        const host = authority.hostname.startsWith('[')
          ? authority.hostname.slice(1, -1)
          : authority.hostname || 'localhost';
        return connectWith(
          this,
          withServername({
            ...picked,
            host,
            port: authority.port === '' ? 443 : Number(authority.port),
            ALPNProtocols: ['h2'],
          }),
        );
      },
    };
  }
}

const denyAll: Authorizer = () => false;

function toError(err: unknown): Error {
  return err instanceof Error
    ? err
    : new X509SvidVerificationError(`server verification failed: ${String(err)}`);
}

function webRoots(
  roots: readonly (X509Certificate | string)[] | undefined,
  what: string,
): readonly string[] | undefined {
  if (roots === undefined) return undefined;
  if (!Array.isArray(roots) || roots.length === 0) {
    throw new InvalidArgumentError(
      `${what}: "roots" must be a non-empty list (leave it out to use Node's default roots)`,
    );
  }
  return Object.freeze(
    roots.map((r: unknown) => {
      if (typeof r === 'string' && r.includes('-----BEGIN CERTIFICATE-----')) return r;
      if (typeof r === 'object' && r !== null && typeof (r as X509Certificate).raw === 'object') {
        return certificatePem(r as X509Certificate);
      }
      throw new InvalidArgumentError(`${what}: every root must be an X509Certificate or PEM text`);
    }),
  );
}

/** SNI for host names (not IP addresses), like `https.Agent` does. */
function withServername(options: Record<string, unknown>): Record<string, unknown> {
  const host = options['host'];
  if (options['servername'] === undefined && typeof host === 'string' && net.isIP(host) === 0) {
    return { ...options, servername: host };
  }
  return options;
}

/** An Error for a connection that completed without the SDK having verified the server. */
function unverified(reason: string): X509SvidVerificationError {
  return new X509SvidVerificationError(
    `the server was not verified: ${reason}; connection refused`,
  );
}

/**
 * Opens a TLS connection for `mode`. Internal entry point of every client path.
 *
 * The socket's `emit` is wrapped so that `'secureConnect'` reaches no listener unless the SDK
 * verified the server on this connection: Node skips `checkServerIdentity` on resumed sessions,
 * and the SDK never offers one, but it fails closed if a session was resumed anyway.
 */
export function connectWith(mode: ClientModeImpl, options: Record<string, unknown>): tls.TLSSocket {
  const gen = mode.tracker.current();
  const holder: { peer?: VerifiedPeer } = {};
  const socket = tls.connect({
    ...options,
    secureContext: mode.context(gen),
    rejectUnauthorized: true,
    session: undefined,
    checkServerIdentity: mode.checker(holder),
  } as tls.ConnectionOptions);
  const emit = socket.emit.bind(socket);
  let checked = false;
  socket.emit = function guardedEmit(event: string | symbol, ...args: unknown[]) {
    if (event === 'secureConnect' && !checked) {
      checked = true;
      let problem: string | undefined;
      if (socket.isSessionReused())
        problem = 'the TLS session was resumed, so its certificate was not checked';
      else if (!socket.authorized)
        problem = `OpenSSL did not authorize it (${String(socket.authorizationError)})`;
      else if (mode.spiffe && holder.peer === undefined) problem = 'its X509-SVID was not verified';
      if (problem !== undefined) {
        socket.destroy(unverified(problem));
        return false;
      }
      if (holder.peer !== undefined) registerPeer(socket, holder.peer);
    }
    return emit(event, ...args);
  } as typeof socket.emit;
  return socket;
}

/** Validates the authorizer-less parts shared by the mode factories. */
export function requireClientMode(mode: unknown, what: string): ClientModeImpl {
  if (!(mode instanceof ClientModeImpl)) {
    throw new InvalidArgumentError(
      `${what}: expected a client mode (tlsClient, mtlsClient or mtlsWebClient)`,
    );
  }
  return mode;
}

/**
 * The TLS client mode: authenticates the server's X509-SVID against the source's bundles (the
 * bundle of the server's own trust domain only) and applies `authorizer`; presents no client
 * certificate. The source needs no SVID. go-spiffe: `TLSClient` / `TLSClientConfig`.
 *
 * @example
 * ```ts
 * const mode = tlsClient(staticX509Source(undefined, bundle), authorizeId(serverId));
 * ```
 */
export function tlsClient(
  source: X509TrustSource,
  authorizer: Authorizer,
  options?: TlsContextOptions,
): ClientMode {
  return new ClientModeImpl('tls-client', source, authorizer, options);
}

/**
 * The mTLS client mode: presents the source's X509-SVID, authenticates the server's X509-SVID
 * against the bundle of its trust domain and applies `authorizer`. go-spiffe: `MTLSClient`.
 *
 * @example
 * ```ts
 * const mode = mtlsClient(source, authorizeMemberOf('example.org'));
 * ```
 */
export function mtlsClient(
  source: X509MaterialSource,
  authorizer: Authorizer,
  options?: TlsContextOptions,
): ClientMode {
  return new ClientModeImpl('mtls-client', source, authorizer, options);
}

/**
 * The mTLS-web client mode: presents the source's X509-SVID and authenticates the server with the
 * Web PKI (given roots or Node's default ones, with the normal host name check). No SPIFFE trust
 * or authorizer is involved. go-spiffe: `MTLSWebClient`.
 *
 * @example
 * ```ts
 * const mode = mtlsWebClient(source);                       // Node's default roots
 * const pinned = mtlsWebClient(source, { roots: [corpRootCa] });
 * ```
 */
export function mtlsWebClient(
  source: X509SvidSource & SourceUpdates,
  options?: MtlsWebClientOptions,
): ClientMode {
  return new ClientModeImpl('mtls-web-client', source, undefined, options);
}
