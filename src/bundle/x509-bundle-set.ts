import { BundleNotFoundError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { X509BundleSource } from './source.js';
import { type BundleKind, TrustDomainIndex } from './trust-domain-index.js';
import { X509Bundle } from './x509-bundle.js';

const KIND: BundleKind<X509Bundle> = {
  is: (value): value is X509Bundle => value instanceof X509Bundle,
  label: 'X.509',
};

/**
 * An immutable set of {@link X509Bundle}s, at most one per trust domain: the X.509 trust of a
 * workload (its own trust domain plus federated ones). It is an {@link X509BundleSource}, so it
 * can be handed to X509-SVID verification, which picks the bundle of the peer's trust domain and
 * of no other. The `with…` methods return new sets; the set itself never changes, so a reference
 * to it is a consistent snapshot.
 *
 * @example
 * ```ts
 * import { X509BundleSet } from 'spiffe-sdk/bundle';
 *
 * const set = X509BundleSet.of(ownBundle, partnerBundle);
 * set.getX509BundleForTrustDomain(TrustDomain.parse('partner.org')); // partnerBundle
 * ```
 */
export class X509BundleSet implements X509BundleSource, Iterable<X509Bundle> {
  readonly #index: TrustDomainIndex<X509Bundle>;

  /**
   * A set of `bundles`; for a trust domain given twice, the later bundle wins. Throws
   * {@link InvalidArgumentError} for anything that is not an {@link X509Bundle}.
   *
   * @example
   * ```ts
   * const set = new X509BundleSet([bundleA, bundleB]);
   * ```
   */
  constructor(bundles: Iterable<X509Bundle> = []) {
    this.#index = new TrustDomainIndex(bundles, KIND);
    Object.freeze(this);
  }

  /**
   * A set of the given bundles (a later bundle for the same trust domain wins).
   *
   * @example
   * ```ts
   * const set = X509BundleSet.of(bundleA, bundleB);
   * ```
   */
  static of(...bundles: X509Bundle[]): X509BundleSet {
    return new X509BundleSet(bundles);
  }

  /**
   * The number of trust domains in the set.
   *
   * @example
   * ```ts
   * X509BundleSet.of(bundleA).size; // 1
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
  get(trustDomain: TrustDomain): X509Bundle | undefined {
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
  with(bundle: X509Bundle): X509BundleSet {
    return new X509BundleSet([...this.#index.sorted, bundle]);
  }

  /**
   * A new set without the bundle of `trustDomain` (the same set if it has none).
   *
   * @example
   * ```ts
   * const next = set.without(TrustDomain.parse('former-partner.org'));
   * ```
   */
  without(trustDomain: TrustDomain): X509BundleSet {
    if (!this.has(trustDomain)) return this;
    return new X509BundleSet(this.#index.sorted.filter((b) => !b.trustDomain.equals(trustDomain)));
  }

  /**
   * The bundles sorted by trust domain name (a frozen array).
   *
   * @example
   * ```ts
   * for (const bundle of set.bundles()) console.log(bundle.trustDomain.name);
   * ```
   */
  bundles(): readonly X509Bundle[] {
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
  [Symbol.iterator](): Iterator<X509Bundle> {
    return this.#index.sorted[Symbol.iterator]();
  }

  /**
   * Whether `other` holds equal bundles (see {@link X509Bundle.equals}) for the same trust domains.
   *
   * @example
   * ```ts
   * if (!previous.equals(current)) notifyListeners();
   * ```
   */
  equals(other: X509BundleSet): boolean {
    return this.#index.equals(other.#index, (a, b) => a.equals(b));
  }

  /**
   * The bundle of `trustDomain`; throws {@link BundleNotFoundError} when the set has none.
   *
   * @example
   * ```ts
   * verifyX509Svid(peerChain, set); // uses this method to pick the peer's trust domain bundle
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    const bundle = this.get(trustDomain);
    if (bundle === undefined) throw new BundleNotFoundError(trustDomain.name, 'X.509');
    return bundle;
  }
}
