import { InvalidArgumentError, InvalidSpiffeIdError } from '../errors.js';
import { MAX_SPIFFE_ID_LENGTH } from './limits.js';
import { parseIdString, SCHEME_PREFIX } from './parse.js';
import { joinPathSegments, validatePath } from './path.js';
import { quoteInput } from './text.js';
import { TrustDomain, trustDomainFromValidatedName } from './trust-domain.js';

// See trust-domain.ts: `private` does not stop plain JavaScript from calling the constructor.
const KEY = Symbol('SpiffeId');

// Without this check a plain-JavaScript caller passing a string would get `spiffe://undefined/...`.
function requireTrustDomain(trustDomain: unknown): asserts trustDomain is TrustDomain {
  if (!(trustDomain instanceof TrustDomain)) {
    throw new InvalidArgumentError(
      'expected a TrustDomain (use TrustDomain.parse to make one from a string)',
    );
  }
}

/**
 * A SPIFFE ID (SPIFFE-ID §2): `spiffe://<trust-domain><path>`. Immutable and always valid: every
 * way of making one validates it. Compare with {@link SpiffeId.equals}, not `===`.
 *
 * The string form is kept exactly as given: nothing is lower-cased, decoded or normalised, and only
 * the one canonical spelling of each ID is accepted (so `SPIFFE://…` is rejected; docs/spiffeid.md
 * explains why), so two components can never disagree about which ID a peer has.
 *
 * @example
 * ```ts
 * import { SpiffeId, TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web');
 * id.trustDomain.name; // 'example.org'
 * id.path;             // '/ns/prod/sa/web'
 * id.memberOf(TrustDomain.parse('example.org')); // true
 * ```
 */
export class SpiffeId {
  /** The trust domain the ID belongs to. */
  readonly trustDomain: TrustDomain;
  /** The path, with its leading slash, or `''` for the trust domain's own ID. */
  readonly path: string;
  readonly #string: string;

  private constructor(trustDomain: TrustDomain, path: string, key: symbol) {
    if (key !== KEY) {
      throw new InvalidArgumentError('use SpiffeId.parse or another SpiffeId factory');
    }
    this.trustDomain = trustDomain;
    this.path = path;
    this.#string = SCHEME_PREFIX + trustDomain.name + path;
    Object.freeze(this);
  }

  /**
   * Parses a SPIFFE ID string: exactly `spiffe://`, a trust domain of `[a-z0-9._-]`, and a path of
   * `/`-separated `[a-zA-Z0-9._-]` segments (none empty, `.` or `..`, no trailing slash), at most
   * {@link MAX_SPIFFE_ID_LENGTH} bytes. Throws {@link InvalidSpiffeIdError} naming the broken rule.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://example.org/web');
   * SpiffeId.parse('spiffe://example.org/web/'); // throws, err.rule === 'path-trailing-slash'
   * SpiffeId.parse('SPIFFE://example.org/web');  // throws, err.rule === 'scheme'
   * ```
   */
  static parse(id: string): SpiffeId {
    const { trustDomain, path } = parseIdString(id);
    return new SpiffeId(trustDomainFromValidatedName(trustDomain), path, KEY);
  }

  /**
   * Builds a SPIFFE ID from a WHATWG `URL` (or a URL string). A string is parsed as it is, like
   * {@link SpiffeId.parse}. A `URL` object is parsed from its `href`, which the URL parser has
   * already normalised (scheme lower-cased, `.` and `..` segments resolved, tabs and line breaks
   * removed), so the original spelling can no longer be checked: for untrusted input, call
   * {@link SpiffeId.parse} on the original string instead.
   *
   * @example
   * ```ts
   * SpiffeId.fromUrl(new URL('spiffe://example.org/web'));
   * SpiffeId.fromUrl('spiffe://example.org/web');
   * ```
   */
  static fromUrl(url: URL | string): SpiffeId {
    if (url instanceof URL) return SpiffeId.parse(url.href);
    return SpiffeId.parse(url);
  }

  /**
   * Builds a SPIFFE ID from a trust domain and a path (empty, or starting with `/`).
   *
   * @example
   * ```ts
   * SpiffeId.fromPath(TrustDomain.parse('example.org'), '/ns/prod'); // spiffe://example.org/ns/prod
   * ```
   */
  static fromPath(trustDomain: TrustDomain, path: string): SpiffeId {
    requireTrustDomain(trustDomain);
    validatePath(path);
    return SpiffeId.#checked(trustDomain, path);
  }

  /**
   * Builds a SPIFFE ID from a trust domain and path segments (each without slashes).
   *
   * @example
   * ```ts
   * SpiffeId.fromSegments(TrustDomain.parse('example.org'), 'ns', 'prod'); // spiffe://example.org/ns/prod
   * ```
   */
  static fromSegments(trustDomain: TrustDomain, ...segments: readonly string[]): SpiffeId {
    requireTrustDomain(trustDomain);
    return SpiffeId.#checked(trustDomain, joinPathSegments(segments));
  }

  static #checked(trustDomain: TrustDomain, path: string): SpiffeId {
    const length = SCHEME_PREFIX.length + trustDomain.name.length + path.length;
    if (length > MAX_SPIFFE_ID_LENGTH) {
      const id = SCHEME_PREFIX + trustDomain.name + path;
      throw new InvalidSpiffeIdError(
        'too-long',
        id,
        `invalid SPIFFE ID ${quoteInput(id)}: the ID would be ${length} bytes long; at most ${MAX_SPIFFE_ID_LENGTH} bytes are allowed`,
      );
    }
    return new SpiffeId(trustDomain, path, KEY);
  }

  /**
   * Whether the ID belongs to `trustDomain`.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/x').memberOf(TrustDomain.parse('a.org')); // true
   * ```
   */
  memberOf(trustDomain: TrustDomain): boolean {
    return this.trustDomain.equals(trustDomain);
  }

  /**
   * Whether `other` is the same SPIFFE ID (byte-for-byte; paths are case-sensitive).
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/x').equals(SpiffeId.parse('spiffe://a.org/X')); // false
   * ```
   */
  equals(other: SpiffeId): boolean {
    // A brand check rather than instanceof, which an object made with SpiffeId.prototype passes;
    // `unknown` because plain JavaScript may pass anything, even a string.
    const o: unknown = other;
    return typeof o === 'object' && o !== null && #string in o && this.#string === o.#string;
  }

  /**
   * A new ID with `path` (empty, or starting with `/`) appended to this ID's path.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/ns').appendPath('/prod'); // spiffe://a.org/ns/prod
   * ```
   */
  appendPath(path: string): SpiffeId {
    validatePath(path);
    return SpiffeId.#checked(this.trustDomain, this.path + path);
  }

  /**
   * A new ID with the segments appended to this ID's path.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/ns').appendSegments('prod', 'web'); // spiffe://a.org/ns/prod/web
   * ```
   */
  appendSegments(...segments: readonly string[]): SpiffeId {
    return SpiffeId.#checked(this.trustDomain, this.path + joinPathSegments(segments));
  }

  /**
   * A new ID in the same trust domain with `path` instead of this ID's path.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/old').replacePath('/new'); // spiffe://a.org/new
   * ```
   */
  replacePath(path: string): SpiffeId {
    return SpiffeId.fromPath(this.trustDomain, path);
  }

  /**
   * A new ID in the same trust domain whose path is made of `segments`.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/old').replaceSegments('a', 'b'); // spiffe://a.org/a/b
   * ```
   */
  replaceSegments(...segments: readonly string[]): SpiffeId {
    return SpiffeId.fromSegments(this.trustDomain, ...segments);
  }

  /**
   * The ID as a WHATWG `URL`.
   *
   * @example
   * ```ts
   * SpiffeId.parse('spiffe://a.org/web').toUrl().host; // 'a.org'
   * ```
   */
  toUrl(): URL {
    return new URL(this.#string);
  }

  /**
   * The ID's string form, `spiffe://<trust-domain><path>`.
   *
   * @example
   * ```ts
   * `${SpiffeId.parse('spiffe://a.org/web')}`; // 'spiffe://a.org/web'
   * ```
   */
  toString(): string {
    return this.#string;
  }

  /**
   * JSON form: the ID's string form.
   *
   * @example
   * ```ts
   * JSON.stringify({ peer: SpiffeId.parse('spiffe://a.org/web') }); // '{"peer":"spiffe://a.org/web"}'
   * ```
   */
  toJSON(): string {
    return this.#string;
  }
}
