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
