import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BundleNotFoundError, InvalidArgumentError, InvalidBundleError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { exportJwk, importJwkPublicKey, isJsonObject, parseJsonDocument } from './jwk.js';
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
  /** The authorities by key ID. Read-only view. */
  readonly jwtAuthorities: ReadonlyMap<string, KeyObject>;

  private constructor(trustDomain: TrustDomain, authorities: ReadonlyMap<string, KeyObject>) {
    this.trustDomain = trustDomain;
    this.jwtAuthorities = authorities;
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
    return new JwtBundle(trustDomain, new Map());
  }

  /**
   * A bundle holding the given public keys by key ID. Throws {@link InvalidArgumentError} for an
   * empty key ID or a key that is not a public key.
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
    const entries: [string, KeyObject][] =
      authorities instanceof Map
        ? [...(authorities as ReadonlyMap<string, KeyObject>).entries()]
        : Object.entries(authorities as Readonly<Record<string, KeyObject>>);
    const map = new Map<string, KeyObject>();
    for (const [kid, key] of entries) {
      checkAuthority(kid, key);
      map.set(kid, key);
    }
    return new JwtBundle(trustDomain, map);
  }

  /**
   * Parses a JWKS (RFC 7517) document. Keys of an unknown `kty` are skipped; keys whose `use` is
   * present and is not `jwt-svid` are not JWT authorities and are skipped; every other key needs a
   * unique `kid` and must be a well-formed public key, or the whole document is rejected with
   * {@link InvalidBundleError}.
   *
   * @example
   * ```ts
   * const bundle = JwtBundle.parse(td, '{"keys":[{"kty":"EC","crv":"P-256","x":"…","y":"…","kid":"k1"}]}');
   * ```
   */
  static parse(trustDomain: TrustDomain, jwks: string | Uint8Array): JwtBundle {
    const what = `JWT bundle for trust domain "${trustDomain.name}"`;
    const doc = parseJsonDocument(jwks, what);
    if (!isJsonObject(doc) || !Array.isArray(doc['keys'])) {
      throw new InvalidBundleError(
        `cannot parse ${what}: expected a JWKS object with a "keys" array`,
      );
    }
    const map = new Map<string, KeyObject>();
    doc['keys'].forEach((entry: unknown, i) => {
      const where = `cannot parse ${what}: key ${i}`;
      if (!isJsonObject(entry)) throw new InvalidBundleError(`${where}: not a JSON object`);
      const use = entry['use'];
      if (use !== undefined && use !== 'jwt-svid') return;
      const key = importJwkPublicKey(entry, where);
      if (key === undefined) return;
      const kid = entry['kid'];
      if (typeof kid !== 'string' || kid.length === 0) {
        throw new InvalidBundleError(`${where}: a JWT authority needs a non-empty "kid"`);
      }
      if (map.has(kid))
        throw new InvalidBundleError(`${where}: duplicate "kid" ${JSON.stringify(kid)}`);
      map.set(kid, key);
    });
    return new JwtBundle(trustDomain, map);
  }

  /**
   * Reads and parses a JWKS file. File system errors are passed through unchanged.
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
    const data = await readFile(path, options.signal ? { signal: options.signal } : {});
    return JwtBundle.parse(trustDomain, data);
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
   * The bundle as a JWKS document, `{"keys":[...]}`, each key with its `kid`.
   *
   * @example
   * ```ts
   * JwtBundle.parse(td, bundle.marshal()).equals(bundle); // true
   * ```
   */
  marshal(): string {
    const keys = [...this.jwtAuthorities].map(([kid, key]) => ({ ...exportJwk(key), kid }));
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
  if (kid.length === 0) throw new InvalidArgumentError('a JWT authority needs a non-empty key ID');
  if (key.type !== 'public') {
    throw new InvalidArgumentError(
      `JWT authority "${kid}" must be a public key, not a ${key.type} key`,
    );
  }
}
