/**
 * The SDK's error classes. Every error thrown by spiffe-sdk for bad input or a failed check is a
 * {@link SpiffeError} with a stable {@link SpiffeError.code | code}, so callers can branch on
 * `err.code` instead of parsing messages. Messages name the rule that was broken and the offending
 * input, except where the input is secret (tokens and private keys are never echoed).
 *
 * @example
 * ```ts
 * import { SpiffeId } from 'spiffe-sdk/spiffeid';
 * import { SpiffeError } from 'spiffe-sdk';
 *
 * try {
 *   SpiffeId.parse('spiffe://Example.org/web');
 * } catch (err) {
 *   if (err instanceof SpiffeError) console.log(err.code); // ERR_SPIFFE_ID_INVALID
 * }
 * ```
 *
 * @module
 */

/**
 * Base class of every error the SDK throws on purpose.
 *
 * @example
 * ```ts
 * if (err instanceof SpiffeError && err.code === 'ERR_SPIFFE_BUNDLE_NOT_FOUND') retryLater();
 * ```
 */
export class SpiffeError extends Error {
  /** The stable machine-readable code of this class of error. */
  static readonly code: string = 'ERR_SPIFFE';
  /** The stable machine-readable code of this error; see each subclass. */
  readonly code: string = 'ERR_SPIFFE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A function or constructor was called with an argument it cannot accept: a programming error,
 * not bad input from a peer (for example an empty expected audience).
 *
 * @example
 * ```ts
 * // throws InvalidArgumentError: the expected audience must not be empty
 * await parseAndValidateJwtSvid(token, bundles, []);
 * ```
 */
export class InvalidArgumentError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_INVALID_ARGUMENT';
  override readonly code = 'ERR_SPIFFE_INVALID_ARGUMENT';
}

/**
 * The rule of the SPIFFE-ID standard (or of this SDK's documented hardening bounds) that an input
 * broke. Stable; safe to switch on.
 */
export type SpiffeIdRule =
  | 'empty'
  | 'scheme'
  | 'missing-trust-domain'
  | 'trust-domain-char'
  | 'trust-domain-too-long'
  | 'path-char'
  | 'path-leading-slash'
  | 'path-empty-segment'
  | 'path-dot-segment'
  | 'path-trailing-slash'
  | 'too-long';

/**
 * A string is not a valid SPIFFE ID, path or path segment.
 *
 * @example
 * ```ts
 * try { SpiffeId.parse('spiffe://example.org/a//b'); }
 * catch (err) { if (err instanceof InvalidSpiffeIdError) console.log(err.rule); } // path-empty-segment
 * ```
 */
export class InvalidSpiffeIdError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_ID_INVALID';
  override readonly code = 'ERR_SPIFFE_ID_INVALID';
  /** Which rule was broken. */
  readonly rule: SpiffeIdRule;
  /** The rejected input, truncated to 256 characters. SPIFFE IDs are not secret. */
  readonly input: string;

  constructor(rule: SpiffeIdRule, input: string, message: string) {
    super(message);
    this.rule = rule;
    this.input = input.length > 256 ? `${input.slice(0, 256)}…` : input;
  }
}

/**
 * A string is not a valid trust domain name (or a SPIFFE ID to take one from).
 *
 * @example
 * ```ts
 * try { TrustDomain.parse('Example.org'); }
 * catch (err) { if (err instanceof InvalidTrustDomainError) console.log(err.rule); } // trust-domain-char
 * ```
 */
export class InvalidTrustDomainError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_TRUST_DOMAIN_INVALID';
  override readonly code = 'ERR_SPIFFE_TRUST_DOMAIN_INVALID';
  /** Which rule was broken. */
  readonly rule: SpiffeIdRule;
  /** The rejected input, truncated to 256 characters. */
  readonly input: string;

  constructor(rule: SpiffeIdRule, input: string, message: string) {
    super(message);
    this.rule = rule;
    this.input = input.length > 256 ? `${input.slice(0, 256)}…` : input;
  }
}

/**
 * A bundle document (PEM, DER, JWKS or SPIFFE bundle JSON) could not be parsed or broke a rule
 * of the SPIFFE Trust Domain and Bundle standard.
 *
 * @example
 * ```ts
 * try { SpiffeBundle.parse(td, '{"keys":[{"use":"x509-svid","kty":"EC"}]}'); }
 * catch (err) { if (err instanceof InvalidBundleError) console.log(err.message); }
 * ```
 */
export class InvalidBundleError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_BUNDLE_INVALID';
  override readonly code = 'ERR_SPIFFE_BUNDLE_INVALID';
}

/**
 * A bundle source has no bundle for the trust domain that was asked for.
 *
 * @example
 * ```ts
 * try { set.getX509BundleForTrustDomain(TrustDomain.parse('other.org')); }
 * catch (err) { if (err instanceof BundleNotFoundError) console.log(err.trustDomain); }
 * ```
 */
export class BundleNotFoundError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_BUNDLE_NOT_FOUND';
  override readonly code = 'ERR_SPIFFE_BUNDLE_NOT_FOUND';
  /** The trust domain name that had no bundle. */
  readonly trustDomain: string;

  constructor(trustDomain: string, kind: 'X.509' | 'JWT' | 'SPIFFE') {
    super(`no ${kind} bundle for trust domain "${trustDomain}"`);
    this.trustDomain = trustDomain;
  }
}

/**
 * Certificates and a private key do not form a valid X509-SVID (X509-SVID standard §4 and §5),
 * or could not be decoded. The message never contains key material.
 *
 * @example
 * ```ts
 * try { X509Svid.parse(certsPem, keyPem); }
 * catch (err) { if (err instanceof InvalidX509SvidError) console.log(err.message); }
 * ```
 */
export class InvalidX509SvidError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_X509_SVID_INVALID';
  override readonly code = 'ERR_SPIFFE_X509_SVID_INVALID';
}

/**
 * A peer's X509-SVID chain failed verification: bad leaf, no bundle for its trust domain, or no
 * valid path to an authority of that trust domain.
 *
 * @example
 * ```ts
 * try { verifyX509Svid(peerChain, bundles); }
 * catch (err) { if (err instanceof X509SvidVerificationError) deny(err.message); }
 * ```
 */
export class X509SvidVerificationError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_X509_SVID_UNVERIFIED';
  override readonly code = 'ERR_SPIFFE_X509_SVID_UNVERIFIED';
}

/**
 * A JWT-SVID failed parsing or validation (JWT-SVID standard). The token itself is never part of
 * the message; {@link InvalidJwtSvidError.reason} says which rule failed.
 *
 * @example
 * ```ts
 * try { await parseAndValidateJwtSvid(token, bundles, 'my-service'); }
 * catch (err) { if (err instanceof InvalidJwtSvidError && err.reason === 'expired') refresh(); }
 * ```
 */
export class InvalidJwtSvidError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_JWT_SVID_INVALID';
  override readonly code = 'ERR_SPIFFE_JWT_SVID_INVALID';
  /** Which rule failed. Stable; safe to switch on. */
  readonly reason: JwtSvidFailure;

  constructor(reason: JwtSvidFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The rule a JWT-SVID broke. */
export type JwtSvidFailure =
  | 'malformed'
  | 'algorithm'
  | 'type'
  | 'critical-header'
  | 'subject'
  | 'audience'
  | 'expired'
  | 'not-yet-valid'
  | 'issued-in-future'
  | 'missing-claim'
  | 'claim-type'
  | 'no-bundle'
  | 'unknown-key'
  | 'signature';

/**
 * The rule of the SPIFFE Workload Endpoint standard (§4, "Locating the Endpoint") that a Workload
 * API address broke. Stable; safe to switch on.
 */
export type EndpointAddressRule =
  | 'missing'
  | 'not-a-uri'
  | 'scheme'
  | 'userinfo'
  | 'query'
  | 'fragment'
  | 'unix-authority'
  | 'unix-path'
  | 'tcp-host'
  | 'tcp-port'
  | 'tcp-path'
  | 'npipe-name'
  | 'platform';

/**
 * A Workload API endpoint address (an option or `SPIFFE_ENDPOINT_SOCKET`) is not an address the
 * SPIFFE Workload Endpoint standard allows: `unix:///absolute/path`, `unix:/absolute/path`,
 * `tcp://<IP>:<port>`, or on Windows `npipe:<name>`.
 *
 * @example
 * ```ts
 * try { new WorkloadApiClient({ address: 'tcp://localhost:8081' }); }
 * catch (err) { if (err instanceof InvalidEndpointAddressError) console.log(err.rule); } // tcp-host
 * ```
 */
export class InvalidEndpointAddressError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_ENDPOINT_INVALID';
  override readonly code = 'ERR_SPIFFE_ENDPOINT_INVALID';
  /** Which rule was broken. */
  readonly rule: EndpointAddressRule;
  /** The rejected address, truncated to 256 characters. Addresses are not secret. */
  readonly input: string;

  constructor(rule: EndpointAddressRule, input: string, message: string) {
    super(message);
    this.rule = rule;
    this.input = input.length > 256 ? `${input.slice(0, 256)}…` : input;
  }
}

/**
 * A Workload API call ended with a gRPC status other than OK (or a stream was closed by the
 * agent). {@link WorkloadApiError.grpcStatus} names the status (`PermissionDenied`,
 * `Unavailable`, `InvalidArgument`, …) and {@link WorkloadApiError.grpcCode} is its number.
 *
 * @example
 * ```ts
 * try { await client.fetchX509Svid(); }
 * catch (err) {
 *   if (err instanceof WorkloadApiError && err.grpcStatus === 'PermissionDenied') waitForRegistration();
 * }
 * ```
 */
export class WorkloadApiError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_WORKLOAD_API';
  override readonly code = 'ERR_SPIFFE_WORKLOAD_API';
  /** The gRPC status code number (0 = OK for a stream the agent ended, 7 = PermissionDenied, …). */
  readonly grpcCode: number;
  /** The gRPC status name, e.g. `PermissionDenied`. */
  readonly grpcStatus: string;
  /** The status details the agent sent (or the transport's description). */
  readonly details: string;
  /** The Workload API method, e.g. `FetchX509SVID`. */
  readonly method: string;

  constructor(
    method: string,
    grpcCode: number,
    grpcStatus: string,
    details: string,
    options?: { cause?: unknown },
  ) {
    super(`Workload API ${method}: ${grpcStatus}${details === '' ? '' : `: ${details}`}`, options);
    this.method = method;
    this.grpcCode = grpcCode;
    this.grpcStatus = grpcStatus;
    this.details = details;
  }
}

/**
 * A Workload API response broke the standard (a mandatory field empty, an SVID or bundle that
 * does not parse, …). Watches and sources discard such a response and keep the last good material
 * (Workload API standard §4.5); one-shot fetches reject with this error. The message names the
 * field and the rule, never key material or tokens.
 *
 * @example
 * ```ts
 * try { await client.fetchX509Context(); }
 * catch (err) { if (err instanceof InvalidWorkloadApiResponseError) console.log(err.method, err.message); }
 * ```
 */
export class InvalidWorkloadApiResponseError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_WORKLOAD_API_RESPONSE_INVALID';
  override readonly code = 'ERR_SPIFFE_WORKLOAD_API_RESPONSE_INVALID';
  /** The Workload API method whose response was rejected, e.g. `FetchX509SVID`. */
  readonly method: string;

  constructor(method: string, message: string, options?: { cause?: unknown }) {
    super(`invalid ${method} response: ${message}`, options);
    this.method = method;
  }
}

/** Why a source has no X509-SVID to hand out. Stable; safe to switch on. */
export type NoIdentityReason = 'withdrawn' | 'not-picked';

/**
 * A Workload API source has no X509-SVID to hand out: the agent withdrew the workload's identity
 * (it answered `PermissionDenied`; Workload API standard §5.2.1), or the source's picker chose
 * none of the SVIDs.
 *
 * @example
 * ```ts
 * try { source.getX509Svid(); }
 * catch (err) { if (err instanceof NoIdentityError) console.log(err.reason, err.lastError?.message); }
 * ```
 */
export class NoIdentityError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_NO_IDENTITY';
  override readonly code = 'ERR_SPIFFE_NO_IDENTITY';
  /** Why there is no identity. */
  readonly reason: NoIdentityReason;
  /** The error that withdrew the identity, when there was one. */
  readonly lastError: SpiffeError | undefined;

  constructor(reason: NoIdentityReason, message: string, lastError?: SpiffeError) {
    super(message, lastError === undefined ? undefined : { cause: lastError });
    this.reason = reason;
    this.lastError = lastError;
  }
}

/**
 * A Workload API source did not receive its first update within the `timeout` it was created
 * with. {@link SourceTimeoutError.lastError} is the last failure seen (for example
 * `PermissionDenied: no identity issued` while a registration propagates).
 *
 * @example
 * ```ts
 * try { await X509Source.create({ timeout: 5_000 }); }
 * catch (err) { if (err instanceof SourceTimeoutError) console.log(err.lastError?.message); }
 * ```
 */
export class SourceTimeoutError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_SOURCE_TIMEOUT';
  override readonly code = 'ERR_SPIFFE_SOURCE_TIMEOUT';
  /** The last error the source saw before it gave up, if any. */
  readonly lastError: SpiffeError | undefined;
  /** How long the source waited, in milliseconds. */
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number, lastError?: SpiffeError) {
    super(
      `${what}: no update from the Workload API within ${timeoutMs} ms` +
        (lastError === undefined ? ' (no response at all)' : `; last error: ${lastError.message}`),
      lastError === undefined ? undefined : { cause: lastError },
    );
    this.timeoutMs = timeoutMs;
    this.lastError = lastError;
  }
}

/**
 * A client, source or other resource was used after `close()`.
 *
 * @example
 * ```ts
 * await source.close();
 * try { source.getX509Svid(); }
 * catch (err) { if (err instanceof ClosedError) console.log(err.message); } // X509Source is closed
 * ```
 */
export class ClosedError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_CLOSED';
  override readonly code = 'ERR_SPIFFE_CLOSED';
}

/**
 * A TLS peer presented a valid X509-SVID, but the authorizer refused its SPIFFE ID (it returned
 * `false` or threw; what it threw is the {@link PeerUnauthorizedError.cause | cause}).
 *
 * @example
 * ```ts
 * socket.on('error', (err) => {
 *   if (err instanceof PeerUnauthorizedError) console.log('refused', err.peerId);
 * });
 * ```
 */
export class PeerUnauthorizedError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_TLS_PEER_UNAUTHORIZED';
  override readonly code = 'ERR_SPIFFE_TLS_PEER_UNAUTHORIZED';
  /** The peer's verified SPIFFE ID (as a string). SPIFFE IDs are not secret. */
  readonly peerId: string;

  constructor(peerId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.peerId = peerId;
  }
}

/**
 * TLS material cannot be turned into a safe Node TLS configuration: for example there is no trust
 * authority at all (Node would fall back to the public Web PKI roots, so the SDK refuses), or a
 * mode that presents an X509-SVID has none. The message never contains key material.
 *
 * @example
 * ```ts
 * try { mtlsServer(staticX509Source(svid, emptyBundle), authorizeAny()).serverOptions(); }
 * catch (err) { if (err instanceof TlsConfigurationError) console.log(err.message); }
 * ```
 */
export class TlsConfigurationError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_TLS_CONFIGURATION';
  override readonly code = 'ERR_SPIFFE_TLS_CONFIGURATION';
}

/**
 * A command-line tool of the package (`spiffe-sdk demo`, `spiffe-sdk dev-agent`) was given an
 * option it cannot use.
 *
 * @example
 * ```ts
 * // spiffe-sdk demo --duration 1  → exits 2: "--duration must be a number of seconds >= 3"
 * ```
 */
export class CliUsageError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_CLI_USAGE';
  override readonly code = 'ERR_SPIFFE_CLI_USAGE';
}

/**
 * Why fetching a SPIFFE bundle from a bundle endpoint failed. Stable; safe to switch on.
 *
 * - `network`: no connection, or the connection broke before the whole answer arrived;
 * - `tls`: the TLS handshake failed or the server was not authenticated (untrusted or expired
 *   certificate, wrong host name for `https_web`, wrong SPIFFE ID for `https_spiffe`);
 * - `timeout`: the whole exchange took longer than the configured timeout;
 * - `redirect`: the endpoint redirected and the redirect was not followed (not enabled, too many,
 *   or a target that is not a valid bundle endpoint URL);
 * - `status`: an HTTP status other than 200;
 * - `content-type`: the answer is not declared as JSON (or is content-encoded);
 * - `too-large`: the body is longer than the size limit;
 * - `invalid-bundle`: the body is not a valid SPIFFE bundle;
 * - `wrong-trust-domain`: the body is a valid bundle, but detectably not one of the trust domain
 *   that was asked for.
 */
export type BundleEndpointFailure =
  | 'network'
  | 'tls'
  | 'timeout'
  | 'redirect'
  | 'status'
  | 'content-type'
  | 'too-large'
  | 'invalid-bundle'
  | 'wrong-trust-domain';

/**
 * Fetching a SPIFFE bundle from a bundle endpoint (SPIFFE Federation §4, §5) failed.
 * {@link BundleEndpointError.reason} says which rule or step failed; the message names the
 * endpoint URL without userinfo or query.
 *
 * @example
 * ```ts
 * try { await fetchBundle('partner.org', 'https://partner.example/bundle', { auth: { profile: 'https_web' } }); }
 * catch (err) {
 *   if (err instanceof BundleEndpointError && err.reason === 'status') console.log(err.status);
 * }
 * ```
 */
export class BundleEndpointError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_BUNDLE_ENDPOINT';
  override readonly code = 'ERR_SPIFFE_BUNDLE_ENDPOINT';
  /** Which step or rule failed. */
  readonly reason: BundleEndpointFailure;
  /** The endpoint URL that failed, without userinfo and query. */
  readonly url: string;
  /** The HTTP status, when the endpoint answered with one. */
  readonly status: number | undefined;

  constructor(
    reason: BundleEndpointFailure,
    url: string,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(`bundle endpoint ${url}: ${message}`, options);
    this.reason = reason;
    this.url = url;
    this.status = options?.status;
  }
}

/**
 * Why an `x-forwarded-client-cert` (XFCC) header, or the request that carried it, was refused.
 * Stable; safe to switch on.
 *
 * - `malformed`: the header does not follow Envoy's XFCC grammar (or is empty);
 * - `too-large`: the header is longer, or has more elements or key-value pairs, than the bounds;
 * - `untrusted-proxy`: the request did not come from the trusted proxy (wrong remote address, or
 *   the connection's mTLS peer is not the proxy's SPIFFE ID);
 * - `multiple-headers`: the request has more than one `x-forwarded-client-cert` field;
 * - `unexpected-by`: the element the proxy added does not have exactly one `By` value equal to
 *   the expected SPIFFE ID;
 * - `client-id`: that element does not have exactly one `URI` value that is a valid SPIFFE ID;
 * - `unauthorized`: the client's SPIFFE ID is valid but the matcher refused it.
 */
export type XfccFailure =
  | 'malformed'
  | 'too-large'
  | 'untrusted-proxy'
  | 'multiple-headers'
  | 'unexpected-by'
  | 'client-id'
  | 'unauthorized';

/**
 * An `x-forwarded-client-cert` header (Envoy's format) could not be parsed, or the peer identity
 * it claims was not accepted. {@link XfccError.reason} says which rule failed; `unauthorized`
 * means "authenticated but not allowed" (HTTP 403), every other reason means "no trustworthy
 * client identity" (HTTP 401).
 *
 * @example
 * ```ts
 * try { id = readPeerId(req); }
 * catch (err) {
 *   if (err instanceof XfccError) res.statusCode = err.reason === 'unauthorized' ? 403 : 401;
 * }
 * ```
 */
export class XfccError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_XFCC';
  override readonly code = 'ERR_SPIFFE_XFCC';
  /** Which rule failed. */
  readonly reason: XfccFailure;
  /** The client's SPIFFE ID, when the failure is `unauthorized`. SPIFFE IDs are not secret. */
  readonly peerId: string | undefined;

  constructor(
    reason: XfccFailure,
    message: string,
    options?: { cause?: unknown; peerId?: string },
  ) {
    super(message, options);
    this.reason = reason;
    this.peerId = options?.peerId;
  }
}

/**
 * Why a request carrying (or lacking) a JWT-SVID was refused by `spiffe-sdk/http`, and so which
 * status and `WWW-Authenticate` challenge (RFC 6750 §3) it gets. Stable; safe to switch on.
 *
 * - `missing`: no `Authorization` header (401, challenge without an error code, RFC 6750 §3.1);
 * - `scheme`: an `Authorization` header with a scheme other than `Bearer` (401, likewise);
 * - `malformed`: several `Authorization` headers, or a `Bearer` header that does not follow the
 *   RFC 6750 §2.1 grammar (401, `error="invalid_request"`);
 * - `invalid-token`: the token is not a valid JWT-SVID for this service; the
 *   {@link JwtSvidAuthError.cause | cause} is the {@link InvalidJwtSvidError} (401,
 *   `error="invalid_token"`);
 * - `forbidden`: the token is valid but the authorizer refused its SPIFFE ID (403,
 *   `error="insufficient_scope"`).
 */
export type JwtSvidAuthFailure = 'missing' | 'scheme' | 'malformed' | 'invalid-token' | 'forbidden';

/**
 * An HTTP request was refused by a JWT-SVID authenticator of `spiffe-sdk/http`. Carries what the
 * response needs: {@link JwtSvidAuthError.status}, {@link JwtSvidAuthError.wwwAuthenticate}, and
 * `headers` (so that Express's and Fastify's default error handlers, which honour an error's
 * `status` and `headers`, answer correctly). The message is for server logs; neither it nor the
 * challenge ever contains the token.
 *
 * @example
 * ```ts
 * try { caller = await authenticator.authenticate(req.headersDistinct); }
 * catch (err) {
 *   if (!(err instanceof JwtSvidAuthError)) throw err;
 *   log.info(`refused (${err.reason}): ${err.message}`);
 *   res.writeHead(err.status, { 'www-authenticate': err.wwwAuthenticate }).end();
 * }
 * ```
 */
export class JwtSvidAuthError extends SpiffeError {
  static override readonly code = 'ERR_SPIFFE_JWT_SVID_AUTH';
  override readonly code = 'ERR_SPIFFE_JWT_SVID_AUTH';
  /** Why the request was refused. */
  readonly reason: JwtSvidAuthFailure;
  /** 403 for `forbidden`, otherwise 401. */
  readonly status: 401 | 403;
  /** The value of the `WWW-Authenticate` response header (an RFC 6750 `Bearer` challenge). */
  readonly wwwAuthenticate: string;
  /** `{ 'www-authenticate': wwwAuthenticate }`, frozen. */
  readonly headers: Readonly<Record<string, string>>;
  /** The `error_description` for the client: fixed text that never repeats the token. */
  readonly description: string;
  /** For `forbidden`: the caller's verified SPIFFE ID. SPIFFE IDs are not secret. */
  readonly peerId: string | undefined;

  constructor(
    reason: JwtSvidAuthFailure,
    message: string,
    options: { wwwAuthenticate: string; description: string; peerId?: string; cause?: unknown },
  ) {
    super(message, options);
    this.reason = reason;
    this.status = reason === 'forbidden' ? 403 : 401;
    this.wwwAuthenticate = options.wwwAuthenticate;
    this.headers = Object.freeze({ 'www-authenticate': options.wwwAuthenticate });
    this.description = options.description;
    this.peerId = options.peerId;
  }
}
