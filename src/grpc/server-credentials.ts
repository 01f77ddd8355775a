import {
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerCredentials,
} from '@grpc/grpc-js';
import {
  InvalidArgumentError,
  TlsConfigurationError,
  X509SvidVerificationError,
} from '../errors.js';
import type { SpiffeId } from '../spiffeid/index.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';
import { type Authorizer, runAuthorizer } from '../tls/authorizer.js';
import type { Generation } from '../tls/material.js';
import type { TlsContextOptions } from '../tls/options.js';
import {
  mtlsServer,
  mtlsWebServer,
  requireServerMode,
  type ServerMode,
  type ServerModeImpl,
  type ServerModeOptions,
  tlsServer,
  type WebCertificate,
} from '../tls/server-mode.js';
import type { SourceUpdates, X509MaterialSource, X509TrustSource } from '../tls/source.js';
import { type RejectedCall, safely, x509PeerInterceptor } from './peer.js';

/**
 * Options of the gRPC server credentials: the TLS context settings of the tls layer's modes
 * (`minVersion`, `maxVersion`, `ciphers`, `sigalgs`, `ecdhCurve`, `secureOptions`) and two hooks.
 *
 * @example
 * ```ts
 * const options: GrpcServerCredentialsOptions = {
 *   minVersion: 'TLSv1.3',
 *   onReject: (err, call) => log.warn({ peer: call.peer, method: call.method, err: err.message }),
 * };
 * ```
 */
export interface GrpcServerCredentialsOptions extends TlsContextOptions {
  /**
   * Called for every call refused because its client X509-SVID did not verify or was not
   * authorized, with the reason (`X509SvidVerificationError`, `PeerUnauthorizedError`, or the
   * error of unusable server material). For logs and metrics; must not throw.
   */
  readonly onReject?: (error: Error, call: RejectedCall) => void;
  /**
   * Called when the source's new material cannot be applied. Default: `process.emitWarning`.
   */
  readonly onError?: (error: Error) => void;
}

type Watcher = Parameters<ServerCredentials['_addWatcher']>[0];

function report(onError: ((error: Error) => void) | undefined, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  safely(() => {
    if (onError !== undefined) onError(error);
    else process.emitWarning(error);
  });
}

/** Why a grpc-js server cannot use a bundle authority that is not self-signed. */
function anchorProblem(): TlsConfigurationError {
  return new TlsConfigurationError(
    'a bundle authority is not self-signed: grpc-js builds its TLS server from options, and Node ' +
      'drops allowPartialTrustChain there, so clients chained to that authority are refused; ' +
      'serve through createGrpcTlsServer instead',
  );
}

/**
 * Server credentials that follow a server mode. grpc-js hands the complete option set of the
 * current generation to `http2.createSecureServer` and, on every change of the source, to
 * `setSecureContext` (which resets every option it is not given: tickets, versions, client
 * certificate requests). Built on the ServerCredentials class grpc-js exports, the way grpc-js's
 * own certificate-provider credentials are: watchers are the servers bound with these credentials,
 * and the source is followed only while there is one.
 */
class SpiffeServerCredentials extends ServerCredentials {
  readonly #mode: ServerModeImpl;
  readonly #interceptors: ServerInterceptor[];
  readonly #onError: ((error: Error) => void) | undefined;
  #applied: Generation;
  #off: (() => void) | undefined;

  constructor(
    mode: ServerModeImpl,
    applied: Generation,
    interceptors: ServerInterceptor[],
    onError: ((error: Error) => void) | undefined,
  ) {
    super({}, mode.optionsFor(applied));
    this.#mode = mode;
    this.#applied = applied;
    this.#interceptors = interceptors;
    this.#onError = onError;
  }

  /**
   * Installs the source's current material if it changed. Unusable material is reported and not
   * installed; calls then fail closed in the interceptor, which verifies against the newest
   * material.
   */
  #refresh(): void {
    let gen: Generation;
    let options: ReturnType<ServerModeImpl['optionsFor']>;
    try {
      gen = this.#mode.tracker.current();
      if (gen === this.#applied) return;
      options = this.#mode.optionsFor(gen);
    } catch (err) {
      report(this.#onError, err);
      return;
    }
    // Installed anyway: the new SVID and trust apply, and OpenSSL refuses the affected clients.
    if (gen.partialChain && this.#mode.requestCert) report(this.#onError, anchorProblem());
    this.#applied = gen;
    this.updateSecureContextOptions(options);
  }

  override _getSecureContextOptions(): ReturnType<ServerCredentials['_getSecureContextOptions']> {
    this.#refresh();
    return super._getSecureContextOptions();
  }

  override _addWatcher(watcher: Watcher): void {
    this.#off ??= this.#mode.tracker.subscribe(() => {
      this.#refresh();
    });
    super._addWatcher(watcher);
  }

  override _removeWatcher(watcher: Watcher): void {
    super._removeWatcher(watcher);
    if (this.getWatcherCount() === 0) {
      this.#off?.();
      this.#off = undefined;
    }
  }

  override _getInterceptors(): ServerInterceptor[] {
    return this.#interceptors;
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

const denyAll: Authorizer = () => false;

/**
 * Identifies the caller from the leaf certificate that grpc-js exposes in the call's auth context
 * (the only certificate it exposes), verified against the bundle of the leaf's own trust domain
 * and authorized, on every call. Verification results are cached per bundle set by the leaf's
 * fingerprint (the tls layer's verifier); the authorizer runs every time.
 */
function identifyByLeaf(mode: ServerModeImpl): (call: ServerInterceptingCallInterface) => SpiffeId {
  return (call) => {
    const gen = mode.tracker.current();
    const verifier = gen.verifier;
    const leaf = call.getAuthContext().sslPeerCertificate;
    if (verifier === undefined || leaf === undefined) {
      throw new X509SvidVerificationError('the client presented no verified certificate');
    }
    const now = Date.now();
    let peer = verifier.lookup(leaf.fingerprint256, now);
    if (peer === undefined) {
      try {
        peer = verifier.verifyRaw([leaf.raw], leaf.fingerprint256, now);
      } catch (err) {
        if (!(err instanceof X509SvidVerificationError)) throw err;
        throw new X509SvidVerificationError(
          `${err.message} (grpc-js shows only the client's leaf certificate, so it must be signed directly by a bundle authority; serve through createGrpcTlsServer for chains with intermediates)`,
          { cause: err },
        );
      }
    }
    runAuthorizer(mode.authorizer ?? denyAll, peer.id, peer.verifiedChains);
    return peer.id;
  };
}

function credentialsFor(
  mode: ServerMode,
  options: GrpcServerCredentialsOptions | undefined,
  what: string,
): ServerCredentials {
  const impl = requireServerMode(mode, what);
  if (impl.resumption !== 'none') {
    throw new InvalidArgumentError(
      `${what}: resumption "${impl.resumption}" is refused: calls are checked in an interceptor, which cannot tell a resumed TLS session; use createGrpcTlsServer`,
    );
  }
  const gen = impl.tracker.current();
  if (gen.partialChain && impl.requestCert) throw anchorProblem();
  const interceptors = impl.requestCert
    ? [x509PeerInterceptor(identifyByLeaf(impl), options?.onReject)]
    : [];
  return new SpiffeServerCredentials(impl, gen, interceptors, options?.onError);
}

/** The tls layer's mode options (validated there) without the gRPC-only `onReject`. */
function modeOptions(
  options: GrpcServerCredentialsOptions | undefined,
  what: string,
): ServerModeOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError(`${what}: options must be an object`);
  }
  const { onReject, ...rest } = options;
  if (onReject !== undefined && typeof onReject !== 'function') {
    throw new InvalidArgumentError(`${what}: onReject must be a function`);
  }
  return rest;
}

/**
 * gRPC server credentials (for `server.bindAsync`) that present the source's X509-SVID, require a
 * client X509-SVID, and check every call before any handler or later interceptor runs: the
 * client's certificate is verified against the bundle of the client's own trust domain, then
 * `authorizer` decides. Refused calls end with `UNAUTHENTICATED` (not verified) or
 * `PERMISSION_DENIED` (not authorized); a client without an acceptable certificate chain fails the
 * TLS handshake (`UNAVAILABLE`). New connections use the source's current SVID and bundles;
 * sessions are never resumed. Read the caller's ID with {@link peerIdFromCall}. go-spiffe:
 * `grpccredentials.MTLSServerCredentials`.
 *
 * grpc-js exposes only the client's leaf certificate to interceptors, so client X509-SVIDs must
 * be signed directly by a bundle authority (others are refused); {@link createGrpcTlsServer} has
 * no such limit and refuses clients during the TLS handshake. Add your own interceptors with
 * `new Server({ interceptors })`: wrapping these credentials with
 * `createServerCredentialsWithInterceptors` would replace the SDK's interceptor.
 *
 * @example
 * ```ts
 * import { Server } from '@grpc/grpc-js';
 * import { mtlsServerCredentials, peerIdFromCall } from 'spiffe-sdk/grpc';
 * import { authorizeMemberOf } from 'spiffe-sdk/tls';
 *
 * const server = new Server();
 * server.addService(Greeter.service, {
 *   hello: (call, callback) => callback(null, { text: `hi ${peerIdFromCall(call)?.toString()}` }),
 * });
 * server.bindAsync('0.0.0.0:8443', mtlsServerCredentials(x509Source, authorizeMemberOf('example.org')),
 *   (err) => { if (err) throw err; });
 * ```
 */
export function mtlsServerCredentials(
  source: X509MaterialSource,
  authorizer: Authorizer,
  options?: GrpcServerCredentialsOptions,
): ServerCredentials {
  const what = 'mtlsServerCredentials';
  return credentialsFor(mtlsServer(source, authorizer, modeOptions(options, what)), options, what);
}

/**
 * gRPC server credentials that present the source's X509-SVID and ask clients for no
 * certificate ({@link peerIdFromCall} is `undefined`, and `onReject` is never called). go-spiffe:
 * `grpccredentials.TLSServerCredentials`.
 *
 * @example
 * ```ts
 * server.bindAsync('0.0.0.0:8443', tlsServerCredentials(x509Source), (err) => { if (err) throw err; });
 * ```
 */
export function tlsServerCredentials(
  source: X509SvidSource & SourceUpdates,
  options?: GrpcServerCredentialsOptions,
): ServerCredentials {
  const what = 'tlsServerCredentials';
  return credentialsFor(tlsServer(source, modeOptions(options, what)), options, what);
}

/**
 * gRPC server credentials that present a Web PKI certificate and require and check client
 * X509-SVIDs like {@link mtlsServerCredentials}; the source needs only bundles. go-spiffe:
 * `grpccredentials.MTLSWebServerCredentials`.
 *
 * @example
 * ```ts
 * const creds = mtlsWebServerCredentials(bundleSource, authorizeMemberOf('example.org'), {
 *   key: fs.readFileSync('server.key'),
 *   cert: fs.readFileSync('server-chain.pem'),
 * });
 * ```
 */
export function mtlsWebServerCredentials(
  source: X509TrustSource,
  authorizer: Authorizer,
  certificate: WebCertificate,
  options?: GrpcServerCredentialsOptions,
): ServerCredentials {
  const what = 'mtlsWebServerCredentials';
  return credentialsFor(
    mtlsWebServer(source, authorizer, certificate, modeOptions(options, what)),
    options,
    what,
  );
}
