import type { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { type ChannelCredentials, experimental } from '@grpc/grpc-js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';
import type { Authorizer } from '../tls/authorizer.js';
import {
  type ClientModeImpl,
  mtlsClient,
  mtlsWebClient,
  requireClientMode,
  tlsClient,
} from '../tls/client-mode.js';
import { certificatePem, type Generation } from '../tls/material.js';
import type { SourceUpdates, X509MaterialSource, X509TrustSource } from '../tls/source.js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
interface Updates {
  readonly ca: experimental.CaCertificateUpdate;
  readonly identity: experimental.IdentityCertificateUpdate | null;
}

/**
 * Feeds grpc-js's certificate provider API from a client mode's source. grpc-js builds a TLS
 * context from the latest updates for every new connection, so a rotated SVID or bundle set is
 * used by the next connection while existing ones keep working. Material that cannot be used
 * (for example a bundle set without authorities) is sent as `null`, which makes grpc-js refuse
 * new connections (fail closed) until the source recovers. The provider follows the source only
 * while grpc-js listens (a channel's subchannels add and remove their listeners).
 */
class SourceCertificateProvider implements experimental.CertificateProvider {
  readonly #mode: ClientModeImpl;
  /** Web PKI roots (PEM) of the mTLS-web mode; SPIFFE modes trust their bundles. */
  readonly #webRoots: Buffer | undefined;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #updates = new WeakMap<Generation, Updates>();
  #off: (() => void) | undefined;
  #reported: unknown;

  constructor(mode: ClientModeImpl, webRoots: Buffer | undefined) {
    this.#mode = mode;
    this.#webRoots = webRoots;
  }

  #current(): Generation | undefined {
    try {
      return this.#mode.tracker.current();
    } catch (err) {
      // The tracker throws the same error object until the source changes: warn once per cause.
      if (err !== this.#reported) {
        this.#reported = err;
        process.emitWarning(err instanceof Error ? err : new Error(String(err)));
      }
      return undefined;
    }
  }

  #updatesOf(gen: Generation | undefined): Updates | undefined {
    if (gen === undefined) return undefined;
    let updates = this.#updates.get(gen);
    if (updates === undefined) {
      // SPIFFE modes always have authorities here (a generation without any is refused); an
      // empty `ca` Buffer would trust nothing, unlike a missing one (the public roots).
      const ca = this.#webRoots ?? Buffer.from((gen.caPem ?? []).join(''));
      updates = {
        ca: { caCertificate: ca },
        identity:
          gen.svidPem === undefined
            ? null
            : {
                certificate: Buffer.from(gen.svidPem.cert),
                privateKey: Buffer.from(gen.svidPem.key),
              },
      };
      this.#updates.set(gen, updates);
    }
    return updates;
  }

  #follow(): void {
    this.#off ??= this.#mode.tracker.subscribe(() => {
      const updates = this.#updatesOf(this.#current());
      for (const listener of this.#caListeners) listener(updates?.ca ?? null);
      for (const listener of this.#identityListeners) listener(updates?.identity ?? null);
    });
  }

  #unfollowIfIdle(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0) return;
    this.#off?.();
    this.#off = undefined;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    this.#follow();
    listener(this.#updatesOf(this.#current())?.ca ?? null);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
    this.#unfollowIfIdle();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    this.#follow();
    listener(this.#updatesOf(this.#current())?.identity ?? null);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
    this.#unfollowIfIdle();
  }
}

function channelCredentials(
  mode: ClientModeImpl,
  webRoots: Buffer | undefined,
): ChannelCredentials {
  // Fail at construction on unusable material rather than with UNAVAILABLE on the first call.
  mode.tracker.current();
  const provider = new SourceCertificateProvider(mode, webRoots);
  return experimental.createCertificateProviderChannelCredentials(
    provider,
    mode.kind === 'tls-client' ? null : provider,
    {
      // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn verification off.
      rejectUnauthorized: true,
      // The tls layer's check: the server's X509-SVID against the bundle of ITS trust domain, then
      // the authorizer (SPIFFE modes), or the Web PKI host name check (mTLS-web). It never throws.
      checkServerIdentity: mode.checker({}),
    },
  );
}

/**
 * gRPC channel credentials that present the source's X509-SVID and authenticate the server's
 * X509-SVID: verified against the bundle of the server's own trust domain (a b.org CA cannot vouch
 * for an a.org ID, even when both are trusted), then `authorizer` decides. Each new connection
 * uses the source's current SVID and bundles (rotation needs nothing else); sessions are never
 * resumed. A refused server fails the call with `UNAVAILABLE`. go-spiffe:
 * `grpccredentials.MTLSClientCredentials`.
 *
 * Compose JWT-SVID call credentials with `.compose(jwtSvidCallCredentials(…))`.
 *
 * @example
 * ```ts
 * import { credentials } from '@grpc/grpc-js';
 * import { mtlsClientCredentials } from 'spiffe-sdk/grpc';
 * import { authorizeId } from 'spiffe-sdk/tls';
 *
 * const client = new Greeter('api.internal:8443',
 *   mtlsClientCredentials(x509Source, authorizeId('spiffe://example.org/api')));
 * ```
 */
export function mtlsClientCredentials(
  source: X509MaterialSource,
  authorizer: Authorizer,
): ChannelCredentials {
  return channelCredentials(
    requireClientMode(mtlsClient(source, authorizer), 'mtlsClientCredentials'),
    undefined,
  );
}

/**
 * gRPC channel credentials that authenticate the server's X509-SVID like
 * {@link mtlsClientCredentials} but present no client certificate; the source needs only bundles.
 * go-spiffe: `grpccredentials.TLSClientCredentials`.
 *
 * @example
 * ```ts
 * const creds = tlsClientCredentials(staticX509Source(undefined, bundles), authorizeMemberOf('example.org'));
 * const client = new Greeter('api.internal:8443', creds);
 * ```
 */
export function tlsClientCredentials(
  source: X509TrustSource,
  authorizer: Authorizer,
): ChannelCredentials {
  return channelCredentials(
    requireClientMode(tlsClient(source, authorizer), 'tlsClientCredentials'),
    undefined,
  );
}

/**
 * Options of {@link mtlsWebClientCredentials}.
 *
 * @example
 * ```ts
 * const options: MtlsWebClientCredentialsOptions = { roots: [corporateRoot] };
 * ```
 */
export interface MtlsWebClientCredentialsOptions {
  /**
   * The Web PKI roots that authenticate the server (certificates or PEM text). Default: Node's
   * bundled Mozilla roots (`tls.rootCertificates`; grpc-js needs explicit roots, so
   * `NODE_EXTRA_CA_CERTS` is not included). An empty list is refused.
   */
  readonly roots?: readonly (X509Certificate | string)[];
}

/**
 * gRPC channel credentials that present the source's X509-SVID and authenticate the server with
 * the Web PKI (the given roots, and the usual host name check against the channel target or
 * `grpc.ssl_target_name_override`). go-spiffe: `grpccredentials.MTLSWebClientCredentials`.
 *
 * @example
 * ```ts
 * const client = new Greeter('api.example.com:443', mtlsWebClientCredentials(x509Source));
 * ```
 */
export function mtlsWebClientCredentials(
  source: X509SvidSource & SourceUpdates,
  options: MtlsWebClientCredentialsOptions = {},
): ChannelCredentials {
  const roots = options.roots;
  // mtlsWebClient validates the roots (non-empty, certificates or PEM).
  const mode = requireClientMode(
    mtlsWebClient(source, roots === undefined ? {} : { roots }),
    'mtlsWebClientCredentials',
  );
  const pem =
    roots === undefined
      ? tls.rootCertificates
      : roots.map((r) => (typeof r === 'string' ? r : certificatePem(r)));
  return channelCredentials(mode, Buffer.from(pem.join('\n')));
}
