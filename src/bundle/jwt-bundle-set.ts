import { BundleNotFoundError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { JwtBundleSource } from './source.js';
import { type BundleKind, TrustDomainIndex } from './trust-domain-index.js';
import { JwtBundle } from './jwt-bundle.js';

const KIND: BundleKind<JwtBundle> = {
  is: (value): value is JwtBundle => value instanceof JwtBundle,
  label: 'JWT',
};

/**
 * An immutable set of {@link JwtBundle}s, at most one per trust domain: the JWT-SVID trust of a
 * workload (its own trust domain plus federated ones). It is a {@link JwtBundleSource}, so it can
 * be handed to JWT-SVID validation, which picks the bundle of the token's trust domain and of no
 * other. The `with…` methods return new sets; the set itself never changes, so a reference
 * to it is a consistent snapshot.
 *
 * @example
 * ```ts
 * import { JwtBundleSet } from 'spiffe-sdk/bundle';
 *
 * const set = JwtBundleSet.of(ownBundle, partnerBundle);
 * set.getJwtBundleForTrustDomain(TrustDomain.parse('partner.org')); // partnerBundle
 * ```
 */
export class JwtBundleSet implements JwtBundleSource, Iterable<JwtBundle> {
  readonly #index: TrustDomainIndex<JwtBundle>;

  /**
   * A set of `bundles`; for a trust domain given twice, the later bundle wins. Throws
   * {@link InvalidArgumentError} for anything that is not an {@link JwtBundle}.
   *
   * @example
   * ```ts
   * const set = new JwtBundleSet([bundleA, bundleB]);
   * ```
   */
  constructor(bundles: Iterable<JwtBundle> = []) {
    this.#index = new TrustDomainIndex(bundles, KIND);
    Object.freeze(this);
  }

  /**
   * A set of the given bundles (a later bundle for the same trust domain wins).
   *
   * @example
   * ```ts
   * const set = JwtBundleSet.of(bundleA, bundleB);
   * ```
   */
  static of(...bundles: JwtBundle[]): JwtBundleSet {
    return new JwtBundleSet(bundles);
  }

  /**
   * The number of trust domains in the set.
   *
   * @example
   * ```ts
   * JwtBundleSet.of(bundleA).size; // 1
   * ```
   */
  get size(): number {
    return this.#index.sorted.length;
  }

  /**
   * The bundle of `trustDomain`, or `undefined`.
   *
   * @example
   * ```ts
   * const bundle = set.get(TrustDomain.parse('example.org'));
   * ```
   */
  get(trustDomain: TrustDomain): JwtBundle | undefined {
    return this.#index.byName.get(trustDomain.name);
  }

  /**
   * Whether the set has a bundle for `trustDomain`.
   *
   * @example
   * ```ts
   * set.has(TrustDomain.parse('example.org'));
   * ```
   */
  has(trustDomain: TrustDomain): boolean {
    return this.#index.byName.has(trustDomain.name);
  }

  /**
   * A new set with `bundle` added, replacing any bundle of the same trust domain.
   *
   * @example
   * ```ts
   * const next = set.with(rotatedBundle);
   * ```
   */
  with(bundle: JwtBundle): JwtBundleSet {
    return new JwtBundleSet([...this.#index.sorted, bundle]);
  }

  /**
   * A new set without the bundle of `trustDomain` (the same set if it has none).
   *
   * @example
   * ```ts
   * const next = set.without(TrustDomain.parse('former-partner.org'));
   * ```
   */
  without(trustDomain: TrustDomain): JwtBundleSet {
    if (!this.has(trustDomain)) return this;
    return new JwtBundleSet(this.#index.sorted.filter((b) => !b.trustDomain.equals(trustDomain)));
  }

  /**
   * The bundles sorted by trust domain name (a frozen array).
   *
   * @example
   * ```ts
   * for (const bundle of set.bundles()) console.log(bundle.trustDomain.name);
   * ```
   */
  bundles(): readonly JwtBundle[] {
    return this.#index.sorted;
  }

  /**
   * Iterates over the bundles in trust domain name order.
   *
   * @example
   * ```ts
   * const names = [...set].map((b) => b.trustDomain.name);
   * ```
   */
  [Symbol.iterator](): Iterator<JwtBundle> {
    return this.#index.sorted[Symbol.iterator]();
  }

  /**
   * Whether `other` holds equal bundles (see {@link JwtBundle.equals}) for the same trust domains.
   *
   * @example
   * ```ts
   * if (!previous.equals(current)) notifyListeners();
   * ```
   */
  equals(other: JwtBundleSet): boolean {
    return this.#index.equals(other.#index, (a, b) => a.equals(b));
  }

  /**
   * The bundle of `trustDomain`; throws {@link BundleNotFoundError} when the set has none.
   *
   * @example
   * ```ts
   * await parseAndValidateJwtSvid(token, set, 'my-service'); // picks the token's trust domain bundle
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    const bundle = this.get(trustDomain);
    if (bundle === undefined) throw new BundleNotFoundError(trustDomain.name, 'JWT');
    return bundle;
  }
}
