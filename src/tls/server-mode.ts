import { type KeyObject, X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { InvalidArgumentError, X509SvidVerificationError } from '../errors.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';
import { type Authorizer, runAuthorizer } from './authorizer.js';
import { certificatePem, type Generation, MaterialTracker } from './material.js';
import {
  type ContextSettings,
  contextSettingsOptions,
  resolveContextOptions,
  SSL_OP_NO_RENEGOTIATION,
  SSL_OP_NO_TICKET,
  type TlsContextOptions,
} from './options.js';
import type { SourceUpdates, X509MaterialSource, X509TrustSource } from './source.js';
import {
  chainFromSocket,
  peerFingerprint,
  type PeerVerifier,
  type VerifiedPeer,
} from './verifier.js';

/**
 * The kind of a server mode (go-spiffe's TLSServer, MTLSServer and MTLSWebServer).
 *
 * @example
 * ```ts
 * if (mode.kind === 'tls-server') console.log('clients are not authenticated');
 * ```
 */
export type ServerModeKind = 'tls-server' | 'mtls-server' | 'mtls-web-server';

/**
 * TLS session resumption policy of a server. For example
 * `mtlsServer(source, authorizer, { resumption: 'identity-bound' })`.
 *
 * - `'none'` (default): no session tickets, no session cache, and a connection that was resumed
 *   anyway is refused.
 * - `'identity-bound'`: tickets are issued, but they are bound to the current trust generation
 *   (fresh ticket keys and a new session ID context on every rotation), and a resumed connection
 *   is accepted only if this process verified the client's certificate under the current bundles
 *   and the authorizer accepts it again. Cheaper handshakes for clients that resume (SDK clients
 *   never do).
 *
 * @example
 * ```ts
 * const policy: ResumptionPolicy = 'identity-bound';
 * ```
 */
export type ResumptionPolicy = 'none' | 'identity-bound';

/**
 * Options of the server modes.
 *
 * @example
 * ```ts
 * const options: ServerModeOptions = {
 *   minVersion: 'TLSv1.3',
 *   onReject: (err, socket) => console.warn(socket.remoteAddress, err.message),
 * };
 * ```
 */
export interface ServerModeOptions extends TlsContextOptions {
  /** Session resumption policy (default `'none'`). */
  readonly resumption?: ResumptionPolicy;
  /** Session lifetime in seconds with `'identity-bound'` resumption (default 300). */
  readonly sessionTimeout?: number;
  /**
   * Called for every client connection the SDK refused (bad or unauthorized X509-SVID, resumed
   * session, …), after the socket was destroyed. For logs and metrics; must not throw.
   */
  readonly onReject?: (error: Error, socket: tls.TLSSocket) => void;
  /**
   * Called when the source's new material cannot be applied (for example a bundle set without
   * authorities). The server keeps its previous TLS context for the handshake, while peer
   * verification already uses the new (stricter) material, so it fails closed. Default:
   * `process.emitWarning`.
   */
  readonly onError?: (error: Error) => void;
}

/**
 * The Web PKI certificate that an {@link mtlsWebServer} presents: PEM text (or a `KeyObject`
 * and `X509Certificate`s, leaf first).
 *
 * @example
 * ```ts
 * const certificate: WebCertificate = {
 *   key: fs.readFileSync('/etc/tls/server.key'),
 *   cert: fs.readFileSync('/etc/tls/server-chain.pem'),
 * };
 * ```
 */
export interface WebCertificate {
  /** The private key: PEM text or a `KeyObject`. */
  readonly key: string | Buffer | KeyObject;
  /** The certificate chain, leaf first: PEM text or certificates. */
  readonly cert: string | Buffer | readonly X509Certificate[];
}

/**
 * How a server accepts connections: which certificate it presents and whether and how it
 * authenticates clients. Made by {@link tlsServer}, {@link mtlsServer} or
 * {@link mtlsWebServer}; used by {@link createTlsServer}, {@link createHttpsServer},
 * {@link createHttp2SecureServer} and {@link applyServerMode}.
 *
 * @example
 * ```ts
 * const mode = mtlsServer(source, authorizeMemberOf('example.org'));
 * const server = createHttpsServer(mode, {}, (req, res) => res.end(peerIdOf(req)?.toString()));
 * ```
 */
export interface ServerMode {
  /** Which go-spiffe mode this is. */
  readonly kind: ServerModeKind;
  /**
   * The complete TLS option set for the source's current material (certificate, key, trust
   * store, versions, `secureOptions`, `sessionIdContext`, `requestCert`,
   * `rejectUnauthorized`). Client authentication is NOT in these options: Node has no
   * per-handshake verification hook for servers, so a server built from them must go through
   * {@link applyServerMode} (the `create…Server` helpers do that).
   *
   * @example
   * ```ts
   * const server = https.createServer(mode.serverOptions(), handler);
   * applyServerMode(server, mode); // before listen()
   * ```
   */
  serverOptions(): tls.TlsOptions;
}

type SvidSource = X509SvidSource & SourceUpdates;

const DEFAULT_SESSION_TIMEOUT = 300;

/** The implementation of {@link ServerMode}; internal. */
export class ServerModeImpl implements ServerMode {
  readonly kind: ServerModeKind;
  readonly tracker: MaterialTracker;
  readonly authorizer: Authorizer | undefined;
  readonly resumption: ResumptionPolicy;
  readonly onReject: ((error: Error, socket: tls.TLSSocket) => void) | undefined;
  readonly onError: ((error: Error) => void) | undefined;
  readonly #settings: ContextSettings;
  readonly #sessionTimeout: number;
  readonly #web: { readonly key: string; readonly cert: string } | undefined;
  readonly #options = new WeakMap<Generation, Readonly<tls.TlsOptions>>();

  constructor(
    kind: ServerModeKind,
    source: X509MaterialSource | X509TrustSource | SvidSource,
    authorizer: Authorizer | undefined,
    web: WebCertificate | undefined,
    options: ServerModeOptions | undefined,
  ) {
    const what =
      kind === 'tls-server' ? 'tlsServer' : kind === 'mtls-server' ? 'mtlsServer' : 'mtlsWebServer';
    if (kind !== 'tls-server' && typeof authorizer !== 'function') {
      throw new InvalidArgumentError(`${what}: the authorizer must be a function`);
    }
    const o = options ?? {};
    this.#settings = resolveContextOptions(o, what);
    // Plain JavaScript callers can pass anything here.
    const resumption: unknown = o.resumption ?? 'none';
    if (resumption !== 'none' && resumption !== 'identity-bound') {
      throw new InvalidArgumentError(
        `${what}: resumption must be 'none' or 'identity-bound', not "${String(resumption)}"`,
      );
    }
    const timeout = o.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT;
    if (o.sessionTimeout !== undefined && resumption === 'none') {
      throw new InvalidArgumentError(`${what}: sessionTimeout needs resumption 'identity-bound'`);
    }
    if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > 86_400) {
      throw new InvalidArgumentError(`${what}: sessionTimeout must be 1..86400 seconds`);
    }
    for (const [name, fn] of [
      ['onReject', o.onReject],
      ['onError', o.onError],
    ] as const) {
      if (fn !== undefined && typeof fn !== 'function') {
        throw new InvalidArgumentError(`${what}: ${name} must be a function`);
      }
    }
    this.kind = kind;
    this.authorizer = authorizer;
    this.resumption = resumption;
    this.#sessionTimeout = timeout;
    this.onReject = o.onReject;
    this.onError = o.onError;
    this.#web = kind === 'mtls-web-server' ? webCertificate(web, what) : undefined;
    this.tracker = new MaterialTracker(
      source,
      kind !== 'mtls-web-server',
      kind !== 'tls-server',
      what,
    );
    Object.freeze(this);
  }

  /** Whether clients must present an X509-SVID. */
  get requestCert(): boolean {
    return this.kind !== 'tls-server';
  }

  /** The complete option set of `gen`, built once per generation. */
  optionsFor(gen: Generation): Readonly<tls.TlsOptions> {
    let options = this.#options.get(gen);
    if (options === undefined) {
      const own = this.#web ?? gen.svidPem;
      if (own === undefined) throw new InvalidArgumentError('server mode without a certificate');
      const o: Record<string, unknown> = {
        ...contextSettingsOptions(this.#settings),
        key: own.key,
        cert: own.cert,
        secureOptions:
          SSL_OP_NO_RENEGOTIATION |
          (this.resumption === 'none' ? SSL_OP_NO_TICKET : 0) |
          this.#settings.secureOptions,
        // Binds sessions to this exact material: OpenSSL refuses to resume a session whose ID
        // context differs, so no session survives a rotation of SVID or bundles.
        sessionIdContext: gen.digest.slice(0, 32),
        requestCert: this.requestCert,
        rejectUnauthorized: true,
      };
      if (this.resumption === 'identity-bound') o['sessionTimeout'] = this.#sessionTimeout;
      if (this.requestCert) o['ca'] = gen.caPem;
      options = Object.freeze(o);
      this.#options.set(gen, options);
    }
    return options;
  }

  serverOptions(): tls.TlsOptions {
    return { ...this.optionsFor(this.tracker.current()) };
  }

  /**
   * Authenticates and authorizes the client of a server-side socket that OpenSSL accepted, against
   * `gen` (the newest material: when JS and OpenSSL disagree during a rotation, JS is stricter).
   * Throws on refusal.
   */
  authorize(socket: tls.TLSSocket, gen: Generation): VerifiedPeer {
    const verifier = gen.verifier;
    if (verifier === undefined) throw new X509SvidVerificationError('no trust bundles');
    if (!socket.authorized) {
      throw new X509SvidVerificationError(
        `the client certificate was not verified by OpenSSL (${String(socket.authorizationError)})`,
      );
    }
    const fingerprint = peerFingerprint(socket);
    const now = Date.now();
    let peer: VerifiedPeer | undefined;
    if (socket.isSessionReused()) {
      if (this.resumption !== 'identity-bound') {
        throw new X509SvidVerificationError(
          'the client resumed a TLS session although resumption is disabled; its certificate chain was not verified on this connection',
        );
      }
      // The session carries only the leaf. Accept it only if this process verified exactly this
      // leaf under the current bundles (the cache belongs to this bundle set and honours expiry).
      peer = verifier.lookup(fingerprint, now);
      if (peer === undefined) {
        throw new X509SvidVerificationError(
          'the client resumed a TLS session whose certificate was not verified under the current trust bundles',
        );
      }
    } else {
      peer =
        verifier.lookup(fingerprint, now) ?? verifyClientChain(verifier, socket, fingerprint, now);
    }
    runAuthorizer(this.authorizer ?? (() => false), peer.id, peer.verifiedChains);
    return peer;
  }
}

/**
 * Verifies the client's chain as Node exposes it. Some Node versions (nodejs/node#65579: 26.8.0,
 * and 24.x releases with the same change) drop the client's intermediate certificates on servers;
 * such a client is refused (fail closed) and the error says why.
 */
function verifyClientChain(
  verifier: PeerVerifier,
  socket: tls.TLSSocket,
  fingerprint: string,
  now: number,
): VerifiedPeer {
  const chain = chainFromSocket(socket);
  try {
    return verifier.verifyCertificates(chain, fingerprint, now);
  } catch (err) {
    if (chain.length === 1 && err instanceof X509SvidVerificationError) {
      throw new X509SvidVerificationError(
        `${err.message} (Node exposed only the client's leaf certificate: if the client sent intermediates, this Node version dropped them, see nodejs/node#65579; SVIDs signed directly by a bundle authority are not affected)`,
        { cause: err },
      );
    }
    throw err;
  }
}

function keyPem(key: unknown, what: string): string {
  if (typeof key === 'string' || Buffer.isBuffer(key)) {
    const text = key.toString();
    if (!text.includes('PRIVATE KEY-----')) {
      throw new InvalidArgumentError(`${what}: the web certificate's key must be PEM text`);
    }
    return text;
  }
  if (typeof key === 'object' && key !== null && (key as KeyObject).type === 'private') {
    return (key as KeyObject).export({ type: 'pkcs8', format: 'pem' }) as string;
  }
  throw new InvalidArgumentError(
    `${what}: the web certificate's key must be PEM or a private KeyObject`,
  );
}

function certPem(cert: unknown, what: string): string {
  if (typeof cert === 'string' || Buffer.isBuffer(cert)) {
    const text = cert.toString();
    if (!text.includes('-----BEGIN CERTIFICATE-----')) {
      throw new InvalidArgumentError(`${what}: the web certificate must be PEM text`);
    }
    return text;
  }
  if (
    Array.isArray(cert) &&
    cert.length > 0 &&
    cert.every((c: unknown) => c instanceof X509Certificate)
  ) {
    return cert.map(certificatePem).join('');
  }
  throw new InvalidArgumentError(
    `${what}: the web certificate must be PEM text or a non-empty list of X509Certificate`,
  );
}

function webCertificate(
  web: WebCertificate | undefined,
  what: string,
): { readonly key: string; readonly cert: string } {
  if (typeof web !== 'object' || (web as unknown) === null) {
    throw new InvalidArgumentError(`${what}: a Web PKI certificate { key, cert } is required`);
  }
  return Object.freeze({ key: keyPem(web.key, what), cert: certPem(web.cert, what) });
}

/** The server mode behind a {@link ServerMode}, or an InvalidArgumentError. */
export function requireServerMode(mode: unknown, what: string): ServerModeImpl {
  if (!(mode instanceof ServerModeImpl)) {
    throw new InvalidArgumentError(
      `${what}: expected a server mode (tlsServer, mtlsServer or mtlsWebServer)`,
    );
  }
  return mode;
}

/**
 * The TLS server mode: presents the source's X509-SVID and does not ask clients for a certificate.
 * go-spiffe: `TLSServer`.
 *
 * @example
 * ```ts
 * const server = createHttpsServer(tlsServer(source), {}, handler);
 * ```
 */
export function tlsServer(
  source: X509SvidSource & SourceUpdates,
  options?: ServerModeOptions,
): ServerMode {
  return new ServerModeImpl('tls-server', source, undefined, undefined, options);
}

/**
 * The mTLS server mode: presents the source's X509-SVID, requires a client X509-SVID, verifies it
 * against the bundle of the client's own trust domain and applies `authorizer`. go-spiffe:
 * `MTLSServer`.
 *
 * @example
 * ```ts
 * const mode = mtlsServer(source, authorizeOneOf('spiffe://example.org/web', 'spiffe://example.org/cli'));
 * ```
 */
export function mtlsServer(
  source: X509MaterialSource,
  authorizer: Authorizer,
  options?: ServerModeOptions,
): ServerMode {
  return new ServerModeImpl('mtls-server', source, authorizer, undefined, options);
}

/**
 * The mTLS-web server mode: presents a Web PKI certificate (`certificate`) while requiring and
 * verifying client X509-SVIDs from the source's bundles, with `authorizer`. The source needs no
 * SVID. go-spiffe: `MTLSWebServer`.
 *
 * @example
 * ```ts
 * const mode = mtlsWebServer(trustSource, authorizeMemberOf('example.org'), { key: keyPem, cert: certPem });
 * ```
 */
export function mtlsWebServer(
  source: X509TrustSource,
  authorizer: Authorizer,
  certificate: WebCertificate,
  options?: ServerModeOptions,
): ServerMode {
  return new ServerModeImpl('mtls-web-server', source, authorizer, certificate, options);
}
