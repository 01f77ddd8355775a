import { type KeyObject, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import type { SpiffeBundleSource } from '../bundle/source.js';
import { InvalidArgumentError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';
import { createHttpsServer } from '../tls/server.js';
import { tlsServer } from '../tls/server-mode.js';
import type { SourceUpdates } from '../tls/source.js';
import { toTrustDomain } from './args.js';
import { bundleEndpointHandler, type BundleEndpointRequestListener } from './handler.js';

/**
 * The options of {@link createBundleEndpointServer} that both profiles share.
 *
 * @example
 * ```ts
 * const common: BundleEndpointServerCommonOptions = { trustDomain: 'example.org', bundleSource: source };
 * ```
 */
export interface BundleEndpointServerCommonOptions {
  /** The trust domain whose bundle is served. */
  readonly trustDomain: TrustDomain | string;
  /** Where the bundle comes from; asked on every request. */
  readonly bundleSource: SpiffeBundleSource;
  /** The one path the bundle is served on (others get 404). Default `/`. */
  readonly path?: string;
  /**
   * Called when the bundle cannot be served, or (https_spiffe) when the source's new SVID cannot
   * be applied. Must not throw.
   */
  readonly onError?: (error: Error) => void;
}

/**
 * Options of {@link createBundleEndpointServer}: the served trust domain and bundle source, and
 * the endpoint profile (SPIFFE Federation §5.2) with its server certificate.
 *
 * - `https_web`: a Web PKI certificate (`key`, `cert` leaf first) whose DNS or IP SANs name the
 *   endpoint's host (§5.2.1.3).
 * - `https_spiffe`: the X509-SVID of `x509Source` (the Workload API `X509Source`, or a
 *   `MutableX509Source`), which the server follows as it rotates (§5.2.2.3).
 *
 * @example
 * ```ts
 * const options: BundleEndpointServerOptions = {
 *   profile: 'https_spiffe',
 *   trustDomain: 'example.org',
 *   bundleSource: x509Source,
 *   x509Source,
 * };
 * ```
 */
export type BundleEndpointServerOptions = BundleEndpointServerCommonOptions &
  (
    | {
        /** Serve with a Web PKI certificate (§5.2.1). */
        readonly profile: 'https_web';
        /** The private key: PEM text or a private `KeyObject`. */
        readonly key: string | Buffer | KeyObject;
        /** The certificate chain, leaf first: PEM text or certificates. */
        readonly cert: string | Buffer | readonly X509Certificate[];
      }
    | {
        /** Serve with an X509-SVID (§5.2.2). */
        readonly profile: 'https_spiffe';
        /** The source of the X509-SVID the endpoint presents. */
        readonly x509Source: X509SvidSource & SourceUpdates;
      }
  );

/**
 * A bundle endpoint server made by {@link createBundleEndpointServer}.
 *
 * @example
 * ```ts
 * await using endpoint = createBundleEndpointServer(options);
 * const url = await endpoint.listen(8443);
 * ```
 */
export interface BundleEndpointHttpsServer extends AsyncDisposable {
  /** The underlying Node server (for extra listeners or metrics; its TLS is managed here). */
  readonly server: https.Server;
  /** A URL of the endpoint once it listens (a wildcard address shows as `localhost`). */
  readonly url: URL | undefined;
  /**
   * Starts listening (defaults: an ephemeral port, every interface) and resolves with the URL.
   * The URL is for local use; peers need the name your certificate or DNS gives the endpoint.
   */
  listen(port?: number, host?: string): Promise<URL>;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** Bounds on slow clients: a bundle request is one small GET. */
const REQUEST_TIMEOUT = 10_000;

function pemOf(value: unknown, kind: 'key' | 'cert'): string {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value.toString();
  if (kind === 'key' && typeof value === 'object' && value !== null && 'export' in value) {
    const key = value as KeyObject;
    if (key.type === 'private') return key.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
  if (
    kind === 'cert' &&
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((c: unknown) => c instanceof X509Certificate)
  ) {
    return value.map((c: X509Certificate) => c.toString()).join('');
  }
  throw new InvalidArgumentError(
    kind === 'key'
      ? 'createBundleEndpointServer: key must be PEM text or a private KeyObject'
      : 'createBundleEndpointServer: cert must be PEM text or a non-empty list of X509Certificate',
  );
}

function urlOf(address: net.AddressInfo): URL {
  const wildcard = address.address === '::' || address.address === '0.0.0.0';
  const host = wildcard
    ? 'localhost'
    : net.isIPv6(address.address)
      ? `[${address.address}]`
      : address.address;
  return new URL(`https://${host}:${address.port}/`);
}

/**
 * An HTTPS server that serves the bundle of `options.trustDomain` at `options.path` with
 * {@link bundleEndpointHandler}, for either endpoint profile. Clients are never asked for a
 * certificate (Federation §5.2.1.3, §5.2.2.3). For https_spiffe the TLS layer's `tlsServer`
 * mode presents the source's current X509-SVID and follows its rotations without a restart.
 * Requests must arrive within 10 s (`requestTimeout` and `headersTimeout`).
 *
 * @example
 * ```ts
 * import { createBundleEndpointServer } from 'spiffe-sdk/federation';
 * import { X509Source } from 'spiffe-sdk/workloadapi';
 *
 * const source = await X509Source.create();
 * const endpoint = createBundleEndpointServer({
 *   profile: 'https_spiffe',
 *   trustDomain: 'example.org',
 *   bundleSource: source, // serves example.org's bundle as the agent delivers it
 *   x509Source: source,
 * });
 * const url = await endpoint.listen(8443);
 * ```
 */
export function createBundleEndpointServer(
  options: BundleEndpointServerOptions,
): BundleEndpointHttpsServer {
  const what = 'createBundleEndpointServer';
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError(`${what}: options are required`);
  }
  const td = toTrustDomain(options.trustDomain, what);
  const path = options.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidArgumentError(`${what}: path must start with "/"`);
  }
  const handlerOptions = options.onError === undefined ? {} : { onError: options.onError };
  const handler = bundleEndpointHandler(td, options.bundleSource, handlerOptions);
  const listener: BundleEndpointRequestListener = (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
      return;
    }
    handler(req, res);
  };
  const serverOptions: https.ServerOptions = {
    requestTimeout: REQUEST_TIMEOUT,
    headersTimeout: REQUEST_TIMEOUT,
  };
  let server: https.Server;
  const profile: unknown = options.profile;
  if (profile === 'https_web') {
    const web = options as BundleEndpointServerOptions & { profile: 'https_web' };
    server = https.createServer(
      {
        ...serverOptions,
        key: pemOf(web.key, 'key'),
        cert: pemOf(web.cert, 'cert'),
        minVersion: 'TLSv1.2',
      },
      listener,
    );
  } else if (profile === 'https_spiffe') {
    const spiffe = options as BundleEndpointServerOptions & { profile: 'https_spiffe' };
    server = createHttpsServer(
      tlsServer(spiffe.x509Source, handlerOptions),
      serverOptions,
      listener,
    );
  } else {
    throw new InvalidArgumentError(`${what}: profile must be 'https_web' or 'https_spiffe'`);
  }
  let url: URL | undefined;
  let closing: Promise<void> | undefined;
  const endpoint: BundleEndpointHttpsServer = {
    server,
    get url() {
      return url === undefined ? undefined : new URL(url.href);
    },
    async listen(port = 0, host?: string): Promise<URL> {
      server.listen(port, host);
      await once(server, 'listening');
      url = urlOf(server.address() as net.AddressInfo);
      url.pathname = path;
      return new URL(url.href);
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
    [Symbol.asyncDispose](): Promise<void> {
      return endpoint.close();
    },
  };
  return Object.freeze(endpoint);
}
