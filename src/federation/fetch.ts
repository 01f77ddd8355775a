import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import net from 'node:net';
import { MAX_BUNDLE_DOCUMENT_SIZE } from '../bundle/limits.js';
import type { X509BundleSource } from '../bundle/source.js';
import { SpiffeBundle } from '../bundle/spiffe-bundle.js';
import type { X509Bundle } from '../bundle/x509-bundle.js';
import {
  BundleEndpointError,
  InvalidArgumentError,
  InvalidBundleError,
  SpiffeError,
} from '../errors.js';
import { parsePemCertificates } from '../internal/der.js';
import { certificateFacts } from '../internal/x509/facts.js';
import { SpiffeId, type TrustDomain } from '../spiffeid/index.js';
import { verifyX509Svid } from '../svid/verify-x509-svid.js';
import { authorizeId } from '../tls/authorizer.js';
import { tlsClient } from '../tls/client-mode.js';
import { staticX509Source } from '../tls/source.js';
import { linkSignals } from '../workloadapi/signals.js';
import { integerOption, MAX_TIMER_DELAY, toTrustDomain } from './args.js';
import { type Connector, type GetResult, httpsGet } from './http-get.js';
import { displayUrl, endpointUrlProblem, parseEndpointUrl } from './url.js';

/**
 * How the bundle endpoint is authenticated: one of the two endpoint profiles of SPIFFE Federation
 * §5.2. The profile is configuration, never inferred from the URL (§7.2).
 *
 * - `https_web` (§5.2.1): the Web PKI. The server certificate must chain to `roots` (default:
 *   Node's bundled Mozilla roots plus `NODE_EXTRA_CA_CERTS`; given roots replace them) and match
 *   the URL's host name (Node's `tls.checkServerIdentity`). No SPIFFE trust is involved.
 * - `https_spiffe` (§5.2.2): the server must present an X509-SVID for exactly `endpointId`,
 *   verified against the bundle of `endpointId`'s own trust domain taken from `bundleSource` (no
 *   other trust domain's authorities are trusted), with no host name check.
 *
 * @example
 * ```ts
 * const web: BundleEndpointAuth = { profile: 'https_web' };
 * const spiffe: BundleEndpointAuth = {
 *   profile: 'https_spiffe',
 *   endpointId: 'spiffe://partner.org/spire/server',
 *   bundleSource: partnerBootstrapBundle, // an X509Bundle, SpiffeBundle, set or X509Source
 * };
 * ```
 */
export type BundleEndpointAuth =
  | {
      /** Web PKI authentication (§5.2.1). */
      readonly profile: 'https_web';
      /** Trusted Web PKI roots (certificates or PEM text); they replace Node's defaults. */
      readonly roots?: readonly (X509Certificate | string)[];
    }
  | {
      /** SPIFFE authentication (§5.2.2). */
      readonly profile: 'https_spiffe';
      /** The SPIFFE ID the endpoint must present. */
      readonly endpointId: SpiffeId | string;
      /** Where the X.509 bundle of the endpoint ID's trust domain comes from. */
      readonly bundleSource: X509BundleSource;
    };

/**
 * Options of {@link fetchBundle}.
 *
 * @example
 * ```ts
 * const options: FetchBundleOptions = { auth: { profile: 'https_web' }, timeout: 5_000, signal };
 * ```
 */
export interface FetchBundleOptions {
  /** How the endpoint is authenticated. */
  readonly auth: BundleEndpointAuth;
  /** Aborts the fetch; the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * The most the whole exchange may take, in milliseconds: connection, handshake, redirects and
   * the complete body. Default 10 000.
   */
  readonly timeout?: number;
  /** The largest body accepted, in bytes. Default (and maximum) `MAX_BUNDLE_DOCUMENT_SIZE`. */
  readonly maxBytes?: number;
  /**
   * How many redirects to follow (Federation §5.2.1.4, §5.2.2.4), 0 to 10. Default 0: a redirect
   * is an error. Followed redirects must lead to `https` URLs without userinfo and are
   * authenticated exactly like the configured URL (same roots and host name rules, or the same
   * endpoint SPIFFE ID); they are never remembered.
   */
  readonly maxRedirects?: number;
}

/** The default total timeout of one fetch, in milliseconds. */
const DEFAULT_TIMEOUT = 10_000;
const MAX_REDIRECTS = 10;

interface SpiffeAuth {
  readonly profile: 'https_spiffe';
  readonly endpointId: SpiffeId;
  readonly bundleSource: X509BundleSource;
}

type ResolvedAuth =
  { readonly profile: 'https_web'; readonly roots: readonly string[] | undefined } | SpiffeAuth;

/** Validated fetch parameters. Internal. */
export interface ResolvedFetch {
  readonly trustDomain: TrustDomain;
  readonly url: URL;
  readonly auth: ResolvedAuth;
  readonly timeout: number;
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** Whether the endpoint ID is in the trust domain being fetched (Federation §5.2.2.2). */
  readonly selfServing: boolean;
}

function rootsPem(roots: unknown, what: string): readonly string[] | undefined {
  if (roots === undefined) return undefined;
  if (!Array.isArray(roots) || roots.length === 0) {
    throw new InvalidArgumentError(
      `${what}: auth.roots must be a non-empty list (leave it out to use Node's default roots)`,
    );
  }
  const pem: string[] = [];
  for (const root of roots as unknown[]) {
    if (root instanceof X509Certificate) {
      pem.push(root.toString());
      continue;
    }
    let parsed: X509Certificate[] = [];
    if (typeof root === 'string') {
      try {
        parsed = parsePemCertificates(root);
      } catch (err) {
        throw new InvalidArgumentError(`${what}: a root is not valid PEM`, { cause: err });
      }
    }
    if (parsed.length === 0) {
      throw new InvalidArgumentError(
        `${what}: every root must be an X509Certificate or PEM text with a certificate`,
      );
    }
    pem.push(...parsed.map((c) => c.toString()));
  }
  return Object.freeze(pem);
}

function resolveAuth(auth: unknown, what: string): ResolvedAuth {
  if (typeof auth !== 'object' || auth === null) {
    throw new InvalidArgumentError(
      `${what}: auth is required ({ profile: 'https_web' | 'https_spiffe', … })`,
    );
  }
  const a = auth as Record<string, unknown>;
  if (a['profile'] === 'https_web') {
    return { profile: 'https_web', roots: rootsPem(a['roots'], what) };
  }
  if (a['profile'] === 'https_spiffe') {
    const id = a['endpointId'];
    let endpointId: SpiffeId;
    if (id instanceof SpiffeId) endpointId = id;
    else if (typeof id === 'string') endpointId = SpiffeId.parse(id);
    else {
      throw new InvalidArgumentError(`${what}: https_spiffe needs auth.endpointId (a SPIFFE ID)`);
    }
    const source = a['bundleSource'] as Partial<X509BundleSource> | undefined;
    if (typeof source?.getX509BundleForTrustDomain !== 'function') {
      throw new InvalidArgumentError(
        `${what}: https_spiffe needs auth.bundleSource (an X.509 bundle source for "${endpointId.trustDomain.name}")`,
      );
    }
    return { profile: 'https_spiffe', endpointId, bundleSource: source as X509BundleSource };
  }
  throw new InvalidArgumentError(
    `${what}: auth.profile must be 'https_web' or 'https_spiffe' (it is never inferred from the URL)`,
  );
}

/** Validates the arguments of a fetch or watch; throws InvalidArgumentError (or ID errors). */
export function resolveFetch(
  trustDomain: unknown,
  url: unknown,
  options: unknown,
  what: string,
): ResolvedFetch {
  const td = toTrustDomain(trustDomain, what);
  const endpoint = parseEndpointUrl(url as string | URL, what);
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`${what}: options with auth are required`);
  }
  const o = options as FetchBundleOptions;
  const auth = resolveAuth(o.auth, what);
  return Object.freeze({
    trustDomain: td,
    url: endpoint,
    auth,
    timeout: integerOption(o.timeout, 'timeout', 1, MAX_TIMER_DELAY, DEFAULT_TIMEOUT, what),
    maxBytes: integerOption(
      o.maxBytes,
      'maxBytes',
      1,
      MAX_BUNDLE_DOCUMENT_SIZE,
      MAX_BUNDLE_DOCUMENT_SIZE,
      what,
    ),
    maxRedirects: integerOption(o.maxRedirects, 'maxRedirects', 0, MAX_REDIRECTS, 0, what),
    selfServing: auth.profile === 'https_spiffe' && auth.endpointId.memberOf(td),
  });
}

/** A plain Web PKI client: given or default roots, Node's host name check, nothing SPIFFE. */
function webConnector(roots: readonly string[] | undefined): Connector {
  return () => ({
    defaultPort: 443,
    agent: undefined,
    createConnection: (opts: object) => {
      const { host, port } = opts as { host?: string; port?: number | string };
      const hostname = host ?? 'localhost';
      const options: tls.ConnectionOptions = {
        host: hostname,
        port: Number(port),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      };
      // SNI and the host name check use the URL's host; SNI is only sent for names.
      if (net.isIP(hostname) === 0) options.servername = hostname;
      // Leaving `ca` out is what selects Node's default roots.
      if (roots !== undefined) options.ca = [...roots];
      return tls.connect(options);
    },
  });
}

/**
 * The TLS layer's SPIFFE client, trusting ONLY `trust` (the bundle of the endpoint ID's trust
 * domain) and accepting only `endpointId`.
 */
function spiffeConnector(trust: X509Bundle, endpointId: SpiffeId): Connector {
  const mode = tlsClient(staticX509Source(undefined, trust), authorizeId(endpointId));
  return () => mode.httpsOptions();
}

/** The current bundle of the endpoint ID's trust domain from the configured source. */
function trustFor(auth: SpiffeAuth, display: string): X509Bundle {
  const td = auth.endpointId.trustDomain;
  try {
    return auth.bundleSource.getX509BundleForTrustDomain(td);
  } catch (err) {
    if (err instanceof SpiffeError) throw err;
    throw new BundleEndpointError(
      'tls',
      display,
      `cannot get the X.509 bundle of "${td.name}" to authenticate the endpoint: ${String(err)}`,
      { cause: err },
    );
  }
}

function uriSpiffeId(uri: string): SpiffeId | undefined {
  try {
    return SpiffeId.parse(uri);
  } catch {
    return undefined;
  }
}

/**
 * The bundle of the answer, with the trust domain checks that the content allows (Federation
 * §4.2, §7.3): an X.509 authority whose URI SAN is the SPIFFE ID of another trust domain (a
 * signing certificate's ID SHOULD be in the trust domain of the SVIDs it issues, X509-SVID §3.2),
 * and, for a self-serving https_spiffe endpoint, a bundle that does not authenticate the
 * endpoint's own X509-SVID (the next fetch must be authenticated with it, §5.2.2.4).
 */
function toBundle(
  r: ResolvedFetch,
  result: GetResult & { kind: 'body' },
  display: string,
): SpiffeBundle {
  let bundle: SpiffeBundle;
  try {
    bundle = SpiffeBundle.parse(r.trustDomain, result.body);
  } catch (err) {
    if (err instanceof InvalidBundleError) {
      throw new BundleEndpointError('invalid-bundle', display, err.message, { cause: err });
    }
    throw err;
  }
  bundle.x509Authorities.forEach((cert, i) => {
    for (const uri of certificateFacts(cert).uriSans) {
      const id = uriSpiffeId(uri);
      if (id !== undefined && !id.memberOf(r.trustDomain)) {
        throw new BundleEndpointError(
          'wrong-trust-domain',
          display,
          `X.509 authority ${i} of the bundle has the SPIFFE ID "${id.toString()}" of trust domain "${id.trustDomain.name}", so this is not a bundle of "${r.trustDomain.name}"`,
        );
      }
    }
  });
  if (r.selfServing && r.auth.profile === 'https_spiffe') {
    // Fail closed: the chain is always captured for a self-serving endpoint.
    if (result.peerChain === undefined) {
      throw new BundleEndpointError(
        'tls',
        display,
        "the endpoint's certificates are not available",
      );
    }
    try {
      verifyX509Svid(result.peerChain, bundle);
    } catch (err) {
      throw new BundleEndpointError(
        'wrong-trust-domain',
        display,
        `the bundle does not authenticate the endpoint's own X509-SVID "${r.auth.endpointId.toString()}" (${err instanceof Error ? err.message : String(err)}), so it is not the current bundle of "${r.trustDomain.name}"`,
        { cause: err },
      );
    }
  }
  return bundle;
}

/**
 * One fetch with validated parameters. `trust` overrides the https_spiffe trust (a watch passes
 * the newest fetched bundle of a self-serving endpoint).
 */
export async function fetchResolved(
  r: ResolvedFetch,
  signal: AbortSignal | undefined,
  trust?: X509Bundle,
): Promise<SpiffeBundle> {
  let url = r.url;
  let display = displayUrl(url);
  const timeout = new AbortController();
  const timer = setTimeout(() => {
    timeout.abort(
      new BundleEndpointError('timeout', display, `no complete answer within ${r.timeout} ms`),
    );
  }, r.timeout);
  const linked = linkSignals(timeout.signal, signal);
  try {
    const { auth } = r;
    const connector =
      auth.profile === 'https_web'
        ? webConnector(auth.roots)
        : spiffeConnector(trust ?? trustFor(auth, display), auth.endpointId);
    for (let hops = 0; ; hops++) {
      const result = await httpsGet(
        url,
        display,
        connector,
        r.maxBytes,
        linked.signal,
        r.selfServing,
      );
      if (result.kind === 'body') return toBundle(r, result, display);
      const redirect = `answered HTTP ${result.status} (a redirect)`;
      if (hops >= r.maxRedirects) {
        throw new BundleEndpointError(
          'redirect',
          display,
          `${redirect}; redirects are not followed${r.maxRedirects === 0 ? ' unless maxRedirects allows them' : ` beyond maxRedirects (${r.maxRedirects})`}`,
          { status: result.status },
        );
      }
      if (result.location === undefined) {
        throw new BundleEndpointError('redirect', display, `${redirect} without a Location`, {
          status: result.status,
        });
      }
      let next: URL;
      try {
        next = new URL(result.location, url);
      } catch (err) {
        throw new BundleEndpointError('redirect', display, `${redirect} to an invalid URL`, {
          status: result.status,
          cause: err,
        });
      }
      const problem = endpointUrlProblem(next);
      if (problem !== undefined) {
        throw new BundleEndpointError(
          'redirect',
          display,
          `${redirect} to ${displayUrl(next)}, which is not a valid bundle endpoint URL: ${problem}`,
          { status: result.status },
        );
      }
      next.hash = '';
      url = next;
      display = displayUrl(url);
    }
  } finally {
    clearTimeout(timer);
    linked.release();
  }
}

/**
 * Fetches the SPIFFE bundle of `trustDomain` from the bundle endpoint at `url` (SPIFFE Federation
 * §4, §5): one HTTPS GET authenticated with `options.auth`. The bundle is bound to the
 * `trustDomain` you pass, never to anything the server says (§5.1, §7.3). Rejects with
 * {@link BundleEndpointError} (see its `reason`) when:
 *
 * - the connection or TLS authentication fails (`network`, `tls`);
 * - the exchange takes longer than `timeout` (`timeout`);
 * - the answer is a redirect and `maxRedirects` does not allow it, or it leads to a URL that is not
 *   `https` or has userinfo (`redirect`);
 * - the status is not 200 (`status`);
 * - the Content-Type is not `application/json` or `application/jwk-set+json` (any case, with
 *   parameters; a charset must be UTF-8), or the body is content-encoded (`content-type`);
 * - the body is longer than `maxBytes`, counted while it streams (`too-large`);
 * - the body is not a valid SPIFFE bundle for the strict parser (`invalid-bundle`);
 * - the bundle is detectably another trust domain's (`wrong-trust-domain`): an X.509 authority
 *   whose URI SAN is a SPIFFE ID of another trust domain, or, from a self-serving https_spiffe
 *   endpoint, a bundle that does not authenticate the endpoint's own X509-SVID.
 *
 * Bad arguments (an `http:` URL, userinfo in the URL, a missing profile, …) reject with
 * `InvalidArgumentError`; an abort rejects with the signal's reason. Proxies from the environment
 * are never used, no connection is pooled or kept, and every failure closes the socket.
 *
 * @example
 * ```ts
 * import { fetchBundle } from 'spiffe-sdk/federation';
 *
 * const partner = await fetchBundle('partner.org', 'https://bundle.partner.example/', {
 *   auth: { profile: 'https_spiffe', endpointId: 'spiffe://partner.org/spire/server', bundleSource: bootstrap },
 * });
 * partner.x509Authorities.length;
 * ```
 */
export async function fetchBundle(
  trustDomain: TrustDomain | string,
  url: string | URL,
  options: FetchBundleOptions,
): Promise<SpiffeBundle> {
  const resolved = resolveFetch(trustDomain, url, options, 'fetchBundle');
  return fetchResolved(resolved, options.signal);
}
