import type { KeyObject, X509Certificate } from 'node:crypto';
import { BundleNotFoundError, InvalidArgumentError, InvalidBundleError } from '../errors.js';
import type { JsonValue } from '../internal/json.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { readBoundedFile } from './file.js';
import {
  exportJwk,
  isJsonObject,
  parseJsonDocument,
  parseJwtAuthorityEntry,
  parseX509AuthorityEntry,
  publicKeyOf,
  quote,
} from './jwk.js';
import { JwtBundle, sortedByKid } from './jwt-bundle.js';
import { MAX_BUNDLE_DOCUMENT_SIZE } from './limits.js';
import type { JwtBundleSource, SpiffeBundleSource, X509BundleSource } from './source.js';
import { X509Bundle } from './x509-bundle.js';

/** The largest `spiffe_sequence`: 2^64 - 1 (TD&B §4.1.1 asks for at least 64 bits). */
const MAX_SEQUENCE = (1n << 64n) - 1n;

/**
 * A SPIFFE bundle (SPIFFE Trust Domain and Bundle standard §4): the X.509 authorities and JWT
 * authorities of one trust domain, with the optional `spiffe_sequence` and `spiffe_refresh_hint`
 * of the JWK Set it came from. The trust domain is not part of the document, so the caller always
 * supplies it. Immutable: the `with…` methods return new bundles.
 *
 * A SPIFFE bundle is its own source of SPIFFE, X.509 and JWT bundles, so it can be handed to X.509
 * and JWT-SVID validators directly.
 *
 * @example
 * ```ts
 * import { SpiffeBundle } from 'spiffe-sdk/bundle';
 * import { TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const bundle = SpiffeBundle.parse(TrustDomain.parse('example.org'), responseBody);
 * bundle.x509Authorities.length; // CA certificates
 * bundle.jwtAuthorities.get('kid-1'); // KeyObject | undefined
 * bundle.sequenceNumber; // e.g. 12n, or undefined
 * bundle.refreshHint; // seconds, or undefined
 * ```
 */
export class SpiffeBundle implements SpiffeBundleSource, X509BundleSource, JwtBundleSource {
  /** The trust domain the authorities belong to. */
  readonly trustDomain: TrustDomain;
  /** The X.509 authorities (CA certificates), de-duplicated, in document order. Frozen. */
  readonly x509Authorities: readonly X509Certificate[];
  /** The JWT authorities by key ID. Immutable. */
  readonly jwtAuthorities: ReadonlyMap<string, KeyObject>;
  /**
   * The `spiffe_sequence` (TD&B §4.1.1), exact over the whole unsigned 64-bit range, or
   * `undefined` when the bundle has none.
   */
  readonly sequenceNumber?: bigint;
  /** The `spiffe_refresh_hint` in seconds (TD&B §4.1.2), or `undefined` when the bundle has none. */
  readonly refreshHint?: number;
  readonly #x509: X509Bundle;
  readonly #jwt: JwtBundle;

  private constructor(
    x509: X509Bundle,
    jwt: JwtBundle,
    sequenceNumber: bigint | undefined,
    refreshHint: number | undefined,
  ) {
    this.trustDomain = x509.trustDomain;
    this.#x509 = x509;
    this.#jwt = jwt;
    this.x509Authorities = x509.x509Authorities;
    this.jwtAuthorities = jwt.jwtAuthorities;
    if (sequenceNumber !== undefined) this.sequenceNumber = sequenceNumber;
    if (refreshHint !== undefined) this.refreshHint = refreshHint;
    Object.freeze(this);
  }

  /**
   * A bundle with no authorities, sequence number or refresh hint. It marshals to `{"keys":[]}`.
   *
   * @example
   * ```ts
   * SpiffeBundle.empty(TrustDomain.parse('example.org')).isEmpty(); // true
   * ```
   */
  static empty(trustDomain: TrustDomain): SpiffeBundle {
    return new SpiffeBundle(
      X509Bundle.empty(trustDomain),
      JwtBundle.empty(trustDomain),
      undefined,
      undefined,
    );
  }

  /**
   * A bundle with the X.509 authorities of `bundle` (and its trust domain), and no JWT authorities.
   *
   * @example
   * ```ts
   * const spiffeBundle = SpiffeBundle.fromX509Bundle(X509Bundle.parse(td, pem));
   * ```
   */
  static fromX509Bundle(bundle: X509Bundle): SpiffeBundle {
    return new SpiffeBundle(bundle, JwtBundle.empty(bundle.trustDomain), undefined, undefined);
  }

  /**
   * A bundle with the JWT authorities of `bundle` (and its trust domain), and no X.509 authorities.
   *
   * @example
   * ```ts
   * const spiffeBundle = SpiffeBundle.fromJwtBundle(JwtBundle.parse(td, jwks));
   * ```
   */
  static fromJwtBundle(bundle: JwtBundle): SpiffeBundle {
    return new SpiffeBundle(X509Bundle.empty(bundle.trustDomain), bundle, undefined, undefined);
  }

  /**
   * Parses a SPIFFE bundle document (a JWK Set, TD&B §4) for `trustDomain`. Throws
   * {@link InvalidBundleError} naming the rule and the entry. The rules:
   *
   * - the text is strict JSON (RFC 8259) of at most {@link MAX_BUNDLE_DOCUMENT_SIZE} bytes, with no
   *   duplicate member names, and it is a JSON object;
   * - `keys` is present and is an array (it may be empty); each element is a JSON object;
   * - `spiffe_sequence`, if present, is an integer from 0 to 2^64 - 1, written without fraction or
   *   exponent; `spiffe_refresh_hint`, if present, is such an integer from 0 to 2^53 - 1;
   * - an entry whose `use` is absent or is neither `x509-svid` nor `jwt-svid`, or whose `kty` is
   *   not `EC`, `RSA` or `OKP`, is ignored (TD&B §4.2.1, §4.2.2); a known `use` needs a string `kty`;
   * - an `x509-svid` entry whose `x5c` is absent or empty is ignored and only the first `x5c`
   *   certificate is used (X509-SVID §6.2); that certificate must be standard-base64 DER and its
   *   public key must equal the key that the JWK members describe (RFC 7517 §4.7), as must the
   *   `x5t`/`x5t#S256` thumbprints when present; `kid` is ignored;
   * - a `jwt-svid` entry needs a non-empty string `kid` that no other `jwt-svid` entry has;
   * - every used key is a well-formed public key: EC on P-256, P-384 or P-521 with full-length
   *   coordinates on the curve, RSA of at least 2048 bits, or Ed25519; members that only private
   *   or secret keys have (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) are refused;
   * - other members are ignored. The same certificate twice is kept once.
   *
   * @example
   * ```ts
   * const bundle = SpiffeBundle.parse(
   *   TrustDomain.parse('example.org'),
   *   '{"keys":[],"spiffe_sequence":18446744073709551615,"spiffe_refresh_hint":300}',
   * );
   * bundle.sequenceNumber; // 18446744073709551615n
   * ```
   */
  static parse(trustDomain: TrustDomain, json: string | Uint8Array): SpiffeBundle {
    const what = `SPIFFE bundle for trust domain "${trustDomain.name}"`;
    return spiffeBundleFromDocument(trustDomain, parseJsonDocument(json, what), what);
  }

  /**
   * Reads and parses a SPIFFE bundle file. Throws {@link InvalidBundleError} (naming the file) for
   * bad content or a file larger than {@link MAX_BUNDLE_DOCUMENT_SIZE}; file system errors (such
   * as `ENOENT`) and aborts are passed through unchanged.
   *
   * @example
   * ```ts
   * const bundle = await SpiffeBundle.load(td, '/etc/spiffe/bundle.json', { signal });
   * ```
   */
  static async load(
    trustDomain: TrustDomain,
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<SpiffeBundle> {
    const data = await readBoundedFile(path, MAX_BUNDLE_DOCUMENT_SIZE, options.signal);
    try {
      return SpiffeBundle.parse(trustDomain, data);
    } catch (err) {
      if (err instanceof InvalidBundleError) {
        throw new InvalidBundleError(`${err.message} (file ${path})`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * The X.509 authorities as an {@link X509Bundle} (the same object every time).
   *
   * @example
   * ```ts
   * verifyX509Svid(chain, spiffeBundle.x509Bundle());
   * ```
   */
  x509Bundle(): X509Bundle {
    return this.#x509;
  }

  /**
   * The JWT authorities as a {@link JwtBundle} (the same object every time).
   *
   * @example
   * ```ts
   * spiffeBundle.jwtBundle().findAuthority('kid-1');
   * ```
   */
  jwtBundle(): JwtBundle {
    return this.#jwt;
  }

  /**
   * Whether the bundle has neither X.509 nor JWT authorities. Per TD&B §4.1.3, SVIDs of a trust
   * domain whose bundle is empty must all be treated as invalid.
   *
   * @example
   * ```ts
   * if (bundle.isEmpty()) console.warn('trust domain revoked all keys:', bundle.trustDomain.name);
   * ```
   */
  isEmpty(): boolean {
    return this.#x509.isEmpty() && this.#jwt.isEmpty();
  }

  /**
   * Whether `cert` (compared by DER bytes) is one of the X.509 authorities.
   *
   * @example
   * ```ts
   * bundle.hasX509Authority(caCert);
   * ```
   */
  hasX509Authority(cert: X509Certificate): boolean {
    return this.#x509.hasAuthority(cert);
  }

  /**
   * The JWT authority with key ID `kid`, or `undefined`.
   *
   * @example
   * ```ts
   * const key = bundle.findJwtAuthority(header.kid);
   * ```
   */
  findJwtAuthority(kid: string): KeyObject | undefined {
    return this.#jwt.findAuthority(kid);
  }

  /**
   * Whether there is a JWT authority with key ID `kid`.
   *
   * @example
   * ```ts
   * bundle.hasJwtAuthority('kid-1');
   * ```
   */
  hasJwtAuthority(kid: string): boolean {
    return this.#jwt.hasAuthority(kid);
  }

  /**
   * A new bundle that also holds `cert` (the same bundle if it is already there).
   *
   * @example
   * ```ts
   * const next = bundle.withX509Authority(newCaCert);
   * ```
   */
  withX509Authority(cert: X509Certificate): SpiffeBundle {
    return this.#withX509(this.#x509.withAuthority(cert));
  }

  /**
   * A new bundle without the X.509 authority `cert`.
   *
   * @example
   * ```ts
   * const next = bundle.withoutX509Authority(retiredCaCert);
   * ```
   */
  withoutX509Authority(cert: X509Certificate): SpiffeBundle {
    return this.#withX509(this.#x509.withoutAuthority(cert));
  }

  /**
   * A new bundle whose X.509 authorities are exactly `certs` (duplicates dropped).
   *
   * @example
   * ```ts
   * const next = bundle.withX509Authorities([rootA, rootB]);
   * ```
   */
  withX509Authorities(certs: Iterable<X509Certificate>): SpiffeBundle {
    return this.#withX509(X509Bundle.fromAuthorities(this.trustDomain, certs));
  }

  /**
   * A new bundle whose X.509 authorities are those of `bundle`, which must be for the same trust
   * domain ({@link InvalidArgumentError} otherwise).
   *
   * @example
   * ```ts
   * const next = spiffeBundle.withX509Bundle(X509Bundle.parse(td, pem));
   * ```
   */
  withX509Bundle(bundle: X509Bundle): SpiffeBundle {
    this.#checkTrustDomain(bundle.trustDomain, 'X.509');
    return this.#withX509(bundle);
  }

  /**
   * A new bundle in which `kid` maps to `key` (replacing any key with that ID). Throws
   * {@link InvalidArgumentError} for an empty `kid` or an unsupported or non-public key.
   *
   * @example
   * ```ts
   * const next = bundle.withJwtAuthority('kid-2', publicKey);
   * ```
   */
  withJwtAuthority(kid: string, key: KeyObject): SpiffeBundle {
    return this.#withJwt(this.#jwt.withAuthority(kid, key));
  }

  /**
   * A new bundle without the JWT authority `kid`.
   *
   * @example
   * ```ts
   * const next = bundle.withoutJwtAuthority('kid-1');
   * ```
   */
  withoutJwtAuthority(kid: string): SpiffeBundle {
    return this.#withJwt(this.#jwt.withoutAuthority(kid));
  }

  /**
   * A new bundle whose JWT authorities are exactly `authorities`. Throws
   * {@link InvalidArgumentError} like {@link JwtBundle.fromAuthorities}.
   *
   * @example
   * ```ts
   * const next = bundle.withJwtAuthorities({ 'kid-1': keyA, 'kid-2': keyB });
   * ```
   */
  withJwtAuthorities(
    authorities: ReadonlyMap<string, KeyObject> | Readonly<Record<string, KeyObject>>,
  ): SpiffeBundle {
    return this.#withJwt(JwtBundle.fromAuthorities(this.trustDomain, authorities));
  }

  /**
   * A new bundle whose JWT authorities are those of `bundle`, which must be for the same trust
   * domain ({@link InvalidArgumentError} otherwise).
   *
   * @example
   * ```ts
   * const next = spiffeBundle.withJwtBundle(JwtBundle.parse(td, jwks));
   * ```
   */
  withJwtBundle(bundle: JwtBundle): SpiffeBundle {
    this.#checkTrustDomain(bundle.trustDomain, 'JWT');
    return this.#withJwt(bundle);
  }

  /**
   * A new bundle with sequence number `sequenceNumber` (an integer from 0 to 2^64 - 1), or
   * without one when `undefined`. A `number` must be a safe integer; use a `bigint` above 2^53.
   * Throws {@link InvalidArgumentError} for anything else.
   *
   * @example
   * ```ts
   * const next = bundle.withSequenceNumber((bundle.sequenceNumber ?? 0n) + 1n);
   * ```
   */
  withSequenceNumber(sequenceNumber: bigint | number | undefined): SpiffeBundle {
    let value: bigint | undefined;
    if (sequenceNumber !== undefined) {
      if (typeof sequenceNumber === 'number' && !Number.isSafeInteger(sequenceNumber)) {
        throw new InvalidArgumentError(
          `sequence number ${sequenceNumber} is not a safe integer; pass a bigint`,
        );
      }
      value = BigInt(sequenceNumber);
      if (value < 0n || value > MAX_SEQUENCE) {
        throw new InvalidArgumentError(
          `sequence number ${value} is outside the unsigned 64-bit range 0..${MAX_SEQUENCE}`,
        );
      }
    }
    if (value === this.sequenceNumber) return this;
    return new SpiffeBundle(this.#x509, this.#jwt, value, this.refreshHint);
  }

  /**
   * A new bundle with refresh hint `seconds` (a non-negative safe integer), or without one when
   * `undefined`. Throws {@link InvalidArgumentError} for anything else.
   *
   * @example
   * ```ts
   * const next = bundle.withRefreshHint(300); // poll every five minutes
   * ```
   */
  withRefreshHint(seconds: number | undefined): SpiffeBundle {
    if (seconds !== undefined && !(Number.isSafeInteger(seconds) && seconds >= 0)) {
      throw new InvalidArgumentError(
        `refresh hint ${seconds} is not a non-negative whole number of seconds`,
      );
    }
    if (seconds === this.refreshHint) return this;
    return new SpiffeBundle(this.#x509, this.#jwt, this.sequenceNumber, seconds);
  }

  /**
   * The bundle as SPIFFE bundle JSON (TD&B §4): `keys` with the X.509 authorities first, in order,
   * each as `{"kty",…,"use":"x509-svid","x5c":[cert]}` without `kid` (X509-SVID §6.1), then the
   * JWT authorities sorted by key ID, each as `{"kty","kid","use":"jwt-svid",…}`; then
   * `spiffe_sequence` and `spiffe_refresh_hint` when set. Equal bundles give equal text, and an
   * empty bundle gives `{"keys":[]}`, which {@link SpiffeBundle.parse} reads back. Throws
   * {@link InvalidBundleError} if an X.509 authority's public key has no JWK form here (not EC
   * P-256/P-384/P-521, RSA of at least 2048 bits, or Ed25519), because the entry could not be
   * parsed back.
   *
   * @example
   * ```ts
   * SpiffeBundle.parse(td, bundle.marshal()).equals(bundle); // true
   * ```
   */
  marshal(): string {
    const keys: string[] = [];
    this.x509Authorities.forEach((cert, i) => {
      const what = `X.509 authority ${i}`;
      const { kty, ...members } = exportJwk(publicKeyOf(cert, `cannot write ${what}`), what);
      keys.push(
        JSON.stringify({ kty, use: 'x509-svid', ...members, x5c: [cert.raw.toString('base64')] }),
      );
    });
    for (const [kid, key] of sortedByKid(this.jwtAuthorities)) {
      const { kty, ...members } = exportJwk(key, `JWT authority ${quote(kid)}`);
      keys.push(JSON.stringify({ kty, kid, use: 'jwt-svid', ...members }));
    }
    let out = `{"keys":[${keys.join(',')}]`;
    if (this.sequenceNumber !== undefined) out += `,"spiffe_sequence":${this.sequenceNumber}`;
    if (this.refreshHint !== undefined) out += `,"spiffe_refresh_hint":${this.refreshHint}`;
    return `${out}}`;
  }

  /**
   * Whether `other` has the same trust domain, X.509 authorities (in the same order), JWT
   * authorities, sequence number and refresh hint.
   *
   * @example
   * ```ts
   * if (!previous.equals(fetched)) publish(fetched);
   * ```
   */
  equals(other: SpiffeBundle): boolean {
    return (
      this === other ||
      (this.sequenceNumber === other.sequenceNumber &&
        this.refreshHint === other.refreshHint &&
        this.#x509.equals(other.#x509) &&
        this.#jwt.equals(other.#jwt))
    );
  }

  /**
   * Returns `this` for its own trust domain; throws {@link BundleNotFoundError} for any other.
   *
   * @example
   * ```ts
   * bundle.getBundleForTrustDomain(td) === bundle; // true
   * ```
   */
  getBundleForTrustDomain(trustDomain: TrustDomain): SpiffeBundle {
    if (!this.trustDomain.equals(trustDomain)) {
      throw new BundleNotFoundError(trustDomain.name, 'SPIFFE');
    }
    return this;
  }

  /**
   * The X.509 bundle for its own trust domain; throws {@link BundleNotFoundError} for any other.
   *
   * @example
   * ```ts
   * verifyX509Svid(chain, spiffeBundle); // a SPIFFE bundle is an X.509 bundle source
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    if (!this.trustDomain.equals(trustDomain)) {
      throw new BundleNotFoundError(trustDomain.name, 'X.509');
    }
    return this.#x509;
  }

  /**
   * The JWT bundle for its own trust domain; throws {@link BundleNotFoundError} for any other.
   *
   * @example
   * ```ts
   * await parseAndValidateJwtSvid(token, spiffeBundle, 'my-audience');
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    if (!this.trustDomain.equals(trustDomain)) {
      throw new BundleNotFoundError(trustDomain.name, 'JWT');
    }
    return this.#jwt;
  }

  #withX509(x509: X509Bundle): SpiffeBundle {
    if (x509 === this.#x509) return this;
    return new SpiffeBundle(x509, this.#jwt, this.sequenceNumber, this.refreshHint);
  }

  #withJwt(jwt: JwtBundle): SpiffeBundle {
    if (jwt === this.#jwt) return this;
    return new SpiffeBundle(this.#x509, jwt, this.sequenceNumber, this.refreshHint);
  }

  #checkTrustDomain(trustDomain: TrustDomain, kind: string): void {
    if (!trustDomain.equals(this.trustDomain)) {
      throw new InvalidArgumentError(
        `cannot use the ${kind} bundle of trust domain "${trustDomain.name}" in the SPIFFE bundle of "${this.trustDomain.name}"`,
      );
    }
  }
}

/**
 * Builds a SPIFFE bundle from a parsed document, with the rules of {@link SpiffeBundle.parse}.
 * Also used by the bundle map parser; not public API.
 */
export function spiffeBundleFromDocument(
  trustDomain: TrustDomain,
  doc: JsonValue,
  what: string,
): SpiffeBundle {
  if (!isJsonObject(doc)) {
    throw new InvalidBundleError(`cannot parse ${what}: the document is not a JSON object`);
  }
  const keys = doc['keys'];
  if (!Array.isArray(keys)) {
    throw new InvalidBundleError(
      `cannot parse ${what}: "keys" must be present and be an array (TD&B §4.1.3)`,
    );
  }
  const sequenceNumber = readInteger(doc['spiffe_sequence'], 'spiffe_sequence', MAX_SEQUENCE, what);
  const hint = readInteger(
    doc['spiffe_refresh_hint'],
    'spiffe_refresh_hint',
    BigInt(Number.MAX_SAFE_INTEGER),
    what,
  );
  const certs: X509Certificate[] = [];
  const jwt = new Map<string, KeyObject>();
  keys.forEach((entry, i) => {
    const where = `cannot parse ${what}: key ${i}`;
    if (!isJsonObject(entry)) throw new InvalidBundleError(`${where}: not a JSON object`);
    const use = entry['use'];
    if (use === 'x509-svid') {
      const cert = parseX509AuthorityEntry(entry, `${where} (x509-svid)`);
      if (cert !== undefined) certs.push(cert);
    } else if (use === 'jwt-svid') {
      const authority = parseJwtAuthorityEntry(entry, `${where} (jwt-svid)`);
      if (authority === undefined) return;
      const [kid, key] = authority;
      if (jwt.has(kid)) {
        throw new InvalidBundleError(`${where} (jwt-svid): duplicate "kid" ${quote(kid)}`);
      }
      jwt.set(kid, key);
    }
  });
  return SpiffeBundle.fromX509Bundle(X509Bundle.fromAuthorities(trustDomain, certs))
    .withJwtBundle(JwtBundle.fromAuthorities(trustDomain, jwt))
    .withSequenceNumber(sequenceNumber)
    .withRefreshHint(hint === undefined ? undefined : Number(hint));
}

/**
 * Reads an optional non-negative integer member written as an integer literal (the parser returns
 * those as bigints; a `number` here had a fraction or an exponent).
 */
function readInteger(
  value: JsonValue | undefined,
  name: string,
  max: bigint,
  what: string,
): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'bigint') {
    throw new InvalidBundleError(
      `cannot parse ${what}: "${name}" must be an integer written without fraction or exponent, not ${describeJson(value)}`,
    );
  }
  if (value < 0n || value > max) {
    throw new InvalidBundleError(
      `cannot parse ${what}: "${name}" ${describeInteger(value)} is outside the range 0..${max}`,
    );
  }
  return value;
}

function describeInteger(value: bigint): string {
  const text = value.toString();
  return text.length > 40 ? `(an integer of ${text.length} characters)` : text;
}

function describeJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}
