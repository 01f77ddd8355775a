import { InvalidArgumentError } from '../errors.js';
import { SCHEME_PREFIX, trustDomainNameOfId, validateTrustDomainName } from './parse.js';
import { SpiffeId } from './spiffe-id.js';

// `private` binds TypeScript only: plain JavaScript can still call `new TrustDomain('EVIL/x')`.
// The constructor therefore demands this module-private key, and the only way to build from an
// already validated name is the module-private factory below (set by the class's static block),
// so no caller can make a TrustDomain whose name skipped validation.
const KEY = Symbol('TrustDomain');
let fromValidated: (name: string) => TrustDomain;

/**
 * The name of a SPIFFE trust domain (SPIFFE-ID §2.1), such as `example.org`. Immutable; compare
 * with {@link TrustDomain.equals}, not `===`.
 *
 * @example
 * ```ts
 * import { TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const td = TrustDomain.parse('example.org');
 * td.name;            // 'example.org'
 * td.id().toString(); // 'spiffe://example.org'
 * TrustDomain.parse('spiffe://example.org/web').equals(td); // true
 * ```
 */
export class TrustDomain {
  /** The trust domain name, e.g. `example.org`. */
  readonly name: string;

  static {
    fromValidated = (name) => new TrustDomain(name, KEY);
  }

  private constructor(name: string, key: symbol) {
    if (key !== KEY) {
      throw new InvalidArgumentError('use TrustDomain.parse to make a TrustDomain');
    }
    this.name = name;
    Object.freeze(this);
  }

  /**
   * Parses a bare trust domain name (`example.org`) or a SPIFFE ID (`spiffe://example.org/web`),
   * whose trust domain it returns after validating the whole ID. Input that contains `:/` is
   * treated as a SPIFFE ID. Throws {@link InvalidTrustDomainError}.
   *
   * @example
   * ```ts
   * TrustDomain.parse('example.org');
   * TrustDomain.parse('spiffe://example.org/ns/prod');
   * TrustDomain.parse('Example.org'); // throws: upper case is not allowed
   * ```
   */
  static parse(idOrName: string): TrustDomain {
    if (typeof idOrName === 'string' && idOrName.includes(':/')) {
      return new TrustDomain(trustDomainNameOfId(idOrName), KEY);
    }
    validateTrustDomainName(idOrName);
    return new TrustDomain(idOrName, KEY);
  }

  /**
   * The SPIFFE ID of the trust domain itself, `spiffe://<name>` (root path).
   *
   * @example
   * ```ts
   * TrustDomain.parse('example.org').id().toString(); // 'spiffe://example.org'
   * ```
   */
  id(): SpiffeId {
    return SpiffeId.fromPath(this, '');
  }

  /**
   * The string form of {@link TrustDomain.id}, `spiffe://<name>`.
   *
   * @example
   * ```ts
   * TrustDomain.parse('example.org').idString(); // 'spiffe://example.org'
   * ```
   */
  idString(): string {
    return SCHEME_PREFIX + this.name;
  }

  /**
   * Whether `other` names the same trust domain.
   *
   * @example
   * ```ts
   * TrustDomain.parse('a.org').equals(TrustDomain.parse('spiffe://a.org/x')); // true
   * ```
   */
  equals(other: TrustDomain): boolean {
    return other instanceof TrustDomain && this.name === other.name;
  }

  /**
   * Orders trust domains by name (byte order): negative, zero or positive like `Array.sort` wants.
   *
   * @example
   * ```ts
   * domains.sort((a, b) => a.compare(b));
   * ```
   */
  compare(other: TrustDomain): number {
    return this.name < other.name ? -1 : this.name > other.name ? 1 : 0;
  }

  /**
   * The trust domain name.
   *
   * @example
   * ```ts
   * `${TrustDomain.parse('example.org')}`; // 'example.org'
   * ```
   */
  toString(): string {
    return this.name;
  }

  /**
   * JSON form: the trust domain name as a string.
   *
   * @example
   * ```ts
   * JSON.stringify({ td: TrustDomain.parse('example.org') }); // '{"td":"example.org"}'
   * ```
   */
  toJSON(): string {
    return this.name;
  }
}

/** Builds a trust domain from a name that the caller has already validated. Not public API. */
export function trustDomainFromValidatedName(name: string): TrustDomain {
  return fromValidated(name);
}
