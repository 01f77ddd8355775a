import type { KeyObject } from 'node:crypto';
import { BundleNotFoundError, InvalidArgumentError, InvalidBundleError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { readBoundedFile } from './file.js';
import { FrozenMap, isMapLike } from './frozen-map.js';
import {
  exportJwk,
  isJsonObject,
  parseJsonDocument,
  parseJwtAuthorityEntry,
  quote,
  unsupportedKeyReason,
} from './jwk.js';
import { MAX_BUNDLE_DOCUMENT_SIZE } from './limits.js';
import type { JwtBundleSource } from './source.js';

/**
 * The JWT authorities of one trust domain: public keys by key ID (`kid`), used to validate that
 * trust domain's JWT-SVIDs. Immutable: the `with…` methods return a new bundle.
 *
 * @example
 * ```ts
 * import { JwtBundle } from 'spiffe-sdk/bundle';
 *
 * const bundle = JwtBundle.parse(TrustDomain.parse('example.org'), jwksText);
 * const key = bundle.findAuthority('kid-1'); // KeyObject | undefined
 * ```
 */
export class JwtBundle implements JwtBundleSource {
  /** The trust domain these authorities belong to. */
  readonly trustDomain: TrustDomain;
  /** The authorities by key ID, in insertion order. Immutable (it has no `set` or `delete`). */
  readonly jwtAuthorities: ReadonlyMap<string, KeyObject>;

  private constructor(
    trustDomain: TrustDomain,
    authorities: Iterable<readonly [string, KeyObject]>,
  ) {
    this.trustDomain = trustDomain;
    this.jwtAuthorities = new FrozenMap(authorities);
    Object.freeze(this);
  }

  /**
   * An empty bundle: valid, and trusts no JWT-SVID.
   *
   * @example
   * ```ts
   * JwtBundle.empty(td).isEmpty(); // true
   * ```
   */
  static empty(trustDomain: TrustDomain): JwtBundle {
    return new JwtBundle(trustDomain, []);
  }

  /**
   * A bundle holding the given public keys by key ID. Throws {@link InvalidArgumentError} for an
   * empty key ID or a key that is not a public EC (P-256, P-384, P-521), RSA (at least 2048 bits)
   * or Ed25519 key.
   *
   * @example
   * ```ts
   * const bundle = JwtBundle.fromAuthorities(td, { 'kid-1': publicKey });
   * ```
   */
  static fromAuthorities(
    trustDomain: TrustDomain,
    authorities: ReadonlyMap<string, KeyObject> | Readonly<Record<string, KeyObject>>,
  ): JwtBundle {
    const entries: [string, KeyObject][] = isMapLike<string, KeyObject>(authorities)
      ? [...authorities.entries()]
      : Object.entries(authorities);
    const map = new Map<string, KeyObject>();
    for (const [kid, key] of entries) {
      checkAuthority(kid, key);
      map.set(kid, key);
    }
    return new JwtBundle(trustDomain, map);
  }

  /**
   * Parses a JWKS (RFC 7517) document, with the strict JSON rules of this SDK (no duplicate member
   * names, at most {@link MAX_BUNDLE_DOCUMENT_SIZE} bytes). The document must be an object with a
   * `keys` array. Keys whose `use` is present and is not `jwt-svid` are not JWT authorities and are
   * skipped, as are keys of an unknown `kty`; every other key must be a well-formed public EC, RSA
   * or Ed25519 key with a non-empty `kid` that no other key of the document has, or the whole
   * document is rejected with {@link InvalidBundleError}.
   *
   * @example
   * ```ts
   * const bundle = JwtBundle.parse(td, '{"keys":[{"kty":"EC","crv":"P-256","x":"…","y":"…","kid":"k1"}]}');
   * ```
   */
  static parse(trustDomain: TrustDomain, jwks: string | Uint8Array): JwtBundle {
    const what = `JWT bundle for trust domain "${trustDomain.name}"`;
    const doc = parseJsonDocument(jwks, what);
    const keys = isJsonObject(doc) ? doc['keys'] : undefined;
    if (!Array.isArray(keys)) {
      throw new InvalidBundleError(
        `cannot parse ${what}: expected a JWKS object with a "keys" array`,
      );
    }
    const map = new Map<string, KeyObject>();
    keys.forEach((entry, i) => {
      const where = `cannot parse ${what}: key ${i}`;
      if (!isJsonObject(entry)) throw new InvalidBundleError(`${where}: not a JSON object`);
      const use = entry['use'];
      if (use !== undefined && use !== 'jwt-svid') return;
      const authority = parseJwtAuthorityEntry(entry, where);
      if (authority === undefined) return;
      const [kid, key] = authority;
      if (map.has(kid)) throw new InvalidBundleError(`${where}: duplicate "kid" ${quote(kid)}`);
      map.set(kid, key);
    });
    return new JwtBundle(trustDomain, map);
  }

  /**
   * Reads and parses a JWKS file. Throws {@link InvalidBundleError} (naming the file) for bad
   * content or a file larger than {@link MAX_BUNDLE_DOCUMENT_SIZE}; file system errors (such as
   * `ENOENT`) and aborts are passed through unchanged.
   *
   * @example
   * ```ts
   * const bundle = await JwtBundle.load(td, '/etc/spiffe/jwks.json');
   * ```
   */
  static async load(
    trustDomain: TrustDomain,
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<JwtBundle> {
    const data = await readBoundedFile(path, MAX_BUNDLE_DOCUMENT_SIZE, options.signal);
    try {
      return JwtBundle.parse(trustDomain, data);
    } catch (err) {
      if (err instanceof InvalidBundleError) {
        throw new InvalidBundleError(`${err.message} (file ${path})`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * The public key with key ID `kid`, or `undefined`.
   *
   * @example
   * ```ts
   * const key = bundle.findAuthority(header.kid);
   * ```
   */
  findAuthority(kid: string): KeyObject | undefined {
    return this.jwtAuthorities.get(kid);
  }

  /**
   * Whether the bundle has a key with key ID `kid`.
   *
   * @example
   * ```ts
   * bundle.hasAuthority('kid-1');
   * ```
   */
  hasAuthority(kid: string): boolean {
    return this.jwtAuthorities.has(kid);
  }

  /**
   * A new bundle in which `kid` maps to `key` (replacing any key with that ID).
   *
   * @example
   * ```ts
   * const next = bundle.withAuthority('kid-2', newPublicKey);
   * ```
   */
  withAuthority(kid: string, key: KeyObject): JwtBundle {
    checkAuthority(kid, key);
    const map = new Map(this.jwtAuthorities);
    map.set(kid, key);
    return new JwtBundle(this.trustDomain, map);
  }

  /**
   * A new bundle without the key `kid`.
   *
   * @example
   * ```ts
   * const next = bundle.withoutAuthority('kid-1');
   * ```
   */
  withoutAuthority(kid: string): JwtBundle {
    if (!this.jwtAuthorities.has(kid)) return this;
    const map = new Map(this.jwtAuthorities);
    map.delete(kid);
    return new JwtBundle(this.trustDomain, map);
  }

  /**
   * Whether the bundle has no keys.
   *
   * @example
   * ```ts
   * bundle.isEmpty();
   * ```
   */
  isEmpty(): boolean {
    return this.jwtAuthorities.size === 0;
  }

  /**
   * The bundle as a plain RFC 7517 JWKS document, `{"keys":[...]}`: one entry per key, sorted by
   * `kid` so equal bundles give equal text, each with its `kid` and no `use` (as go-spiffe writes
   * it). An empty bundle gives `{"keys":[]}`.
   *
   * @example
   * ```ts
   * JwtBundle.parse(td, bundle.marshal()).equals(bundle); // true
   * ```
   */
  marshal(): string {
    const keys = sortedByKid(this.jwtAuthorities).map(([kid, key]) => {
      const { kty, ...members } = exportJwk(key, `JWT authority "${kid}"`);
      return { kty, kid, ...members };
    });
    return JSON.stringify({ keys });
  }

  /**
   * Whether `other` has the same trust domain and the same keys under the same key IDs.
   *
   * @example
   * ```ts
   * before.equals(after); // false after a key rotation
   * ```
   */
  equals(other: JwtBundle): boolean {
    if (!this.trustDomain.equals(other.trustDomain)) return false;
    if (this.jwtAuthorities.size !== other.jwtAuthorities.size) return false;
    for (const [kid, key] of this.jwtAuthorities) {
      const o = other.jwtAuthorities.get(kid);
      if (!o?.equals(key)) return false;
    }
    return true;
  }

  /**
   * A bundle is a source of itself: returns `this` for its own trust domain and throws
   * {@link BundleNotFoundError} for any other.
   *
   * @example
   * ```ts
   * await parseAndValidateJwtSvid(token, bundle, 'my-audience');
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    if (!this.trustDomain.equals(trustDomain))
      throw new BundleNotFoundError(trustDomain.name, 'JWT');
    return this;
  }
}

function checkAuthority(kid: string, key: KeyObject): void {
  if (typeof kid !== 'string' || kid.length === 0) {
    throw new InvalidArgumentError('a JWT authority needs a non-empty key ID');
  }
  const problem = unsupportedKeyReason(key);
  if (problem !== undefined) {
    throw new InvalidArgumentError(`JWT authority ${quote(kid)}: ${problem}`);
  }
}

/** The authorities sorted by key ID (UTF-16 code unit order, not locale order). */
export function sortedByKid(authorities: ReadonlyMap<string, KeyObject>): [string, KeyObject][] {
  return [...authorities].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
