import { BundleNotFoundError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { JwtBundleSet } from './jwt-bundle-set.js';
import type { JwtBundle } from './jwt-bundle.js';
import type { JwtBundleSource, SpiffeBundleSource, X509BundleSource } from './source.js';
import { SpiffeBundle } from './spiffe-bundle.js';
import { type BundleKind, TrustDomainIndex } from './trust-domain-index.js';
import { X509BundleSet } from './x509-bundle-set.js';
import type { X509Bundle } from './x509-bundle.js';

const KIND: BundleKind<SpiffeBundle> = {
  is: (value): value is SpiffeBundle => value instanceof SpiffeBundle,
  label: 'SPIFFE',
};

/**
 * An immutable set of {@link SpiffeBundle}s, at most one per trust domain, for example the
 * federated bundles of a SPIFFE bundle map ({@link parseSpiffeBundleMap}). It is a
 * {@link SpiffeBundleSource}, an {@link X509BundleSource} and a {@link JwtBundleSource}, so one set
 * can feed both X509-SVID verification and JWT-SVID validation. Bundles of different trust domains
 * are never merged (SPIFFE Federation §4.2): each lookup returns only the asked trust domain's
 * authorities.
 *
 * @example
 * ```ts
 * import { SpiffeBundleSet } from 'spiffe-sdk/bundle';
 *
 * const set = SpiffeBundleSet.of(ownBundle, partnerBundle);
 * set.getX509BundleForTrustDomain(TrustDomain.parse('partner.org')); // partner's CA certificates
 * set.getJwtBundleForTrustDomain(TrustDomain.parse('partner.org'));  // partner's JWT keys
 * ```
 */
export class SpiffeBundleSet
  implements SpiffeBundleSource, X509BundleSource, JwtBundleSource, Iterable<SpiffeBundle>
{
  readonly #index: TrustDomainIndex<SpiffeBundle>;
  #x509Set: X509BundleSet | undefined;
  #jwtSet: JwtBundleSet | undefined;

  /**
   * A set of `bundles`; for a trust domain given twice, the later bundle wins. Throws
   * {@link InvalidArgumentError} for anything that is not a {@link SpiffeBundle}.
   *
   * @example
   * ```ts
   * const set = new SpiffeBundleSet([bundleA, bundleB]);
   * ```
   */
  constructor(bundles: Iterable<SpiffeBundle> = []) {
    this.#index = new TrustDomainIndex(bundles, KIND);
    Object.freeze(this);
  }

  /**
   * A set of the given bundles (a later bundle for the same trust domain wins).
   *
   * @example
   * ```ts
   * const set = SpiffeBundleSet.of(bundleA, bundleB);
   * ```
   */
  static of(...bundles: SpiffeBundle[]): SpiffeBundleSet {
    return new SpiffeBundleSet(bundles);
  }

  /**
   * Combines X.509 and JWT bundles per trust domain (as the Workload API delivers them, in two
   * streams) into SPIFFE bundles: a trust domain in only one of the sets gets a SPIFFE bundle with
   * only that kind of authority.
   *
   * @example
   * ```ts
   * const all = SpiffeBundleSet.combine(x509BundleSet, jwtBundleSet);
   * ```
   */
  static combine(
    x509Bundles: Iterable<X509Bundle>,
    jwtBundles: Iterable<JwtBundle>,
  ): SpiffeBundleSet {
    const byName = new Map<string, SpiffeBundle>();
    for (const bundle of x509Bundles) {
      byName.set(bundle.trustDomain.name, SpiffeBundle.fromX509Bundle(bundle));
    }
    for (const bundle of jwtBundles) {
      const existing = byName.get(bundle.trustDomain.name);
      byName.set(
        bundle.trustDomain.name,
        existing === undefined
          ? SpiffeBundle.fromJwtBundle(bundle)
          : existing.withJwtBundle(bundle),
      );
    }
    return new SpiffeBundleSet(byName.values());
  }

  /**
   * The number of trust domains in the set.
   *
   * @example
   * ```ts
   * SpiffeBundleSet.of(bundleA).size; // 1
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
  get(trustDomain: TrustDomain): SpiffeBundle | undefined {
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
   * const next = set.with(fetchedBundle);
   * ```
   */
  with(bundle: SpiffeBundle): SpiffeBundleSet {
    return new SpiffeBundleSet([...this.#index.sorted, bundle]);
  }

  /**
   * A new set without the bundle of `trustDomain` (the same set if it has none).
   *
   * @example
   * ```ts
   * const next = set.without(TrustDomain.parse('former-partner.org'));
   * ```
   */
  without(trustDomain: TrustDomain): SpiffeBundleSet {
    if (!this.has(trustDomain)) return this;
    return new SpiffeBundleSet(
      this.#index.sorted.filter((b) => !b.trustDomain.equals(trustDomain)),
    );
  }

  /**
   * The bundles sorted by trust domain name (a frozen array).
   *
   * @example
   * ```ts
   * for (const bundle of set.bundles()) console.log(bundle.trustDomain.name, bundle.sequenceNumber);
   * ```
   */
  bundles(): readonly SpiffeBundle[] {
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
  [Symbol.iterator](): Iterator<SpiffeBundle> {
    return this.#index.sorted[Symbol.iterator]();
  }

  /**
   * The X.509 bundles of every trust domain in the set (computed once per set).
   *
   * @example
   * ```ts
   * const x509Set = set.x509BundleSet();
   * ```
   */
  x509BundleSet(): X509BundleSet {
    this.#x509Set ??= new X509BundleSet(this.#index.sorted.map((b) => b.x509Bundle()));
    return this.#x509Set;
  }

  /**
   * The JWT bundles of every trust domain in the set (computed once per set).
   *
   * @example
   * ```ts
   * const jwtSet = set.jwtBundleSet();
   * ```
   */
  jwtBundleSet(): JwtBundleSet {
    this.#jwtSet ??= new JwtBundleSet(this.#index.sorted.map((b) => b.jwtBundle()));
    return this.#jwtSet;
  }

  /**
   * Whether `other` holds equal bundles (see {@link SpiffeBundle.equals}) for the same trust
   * domains.
   *
   * @example
   * ```ts
   * if (!previous.equals(current)) notifyListeners();
   * ```
   */
  equals(other: SpiffeBundleSet): boolean {
    return this.#index.equals(other.#index, (a, b) => a.equals(b));
  }

  /**
   * The SPIFFE bundle of `trustDomain`; throws {@link BundleNotFoundError} when the set has none.
   *
   * @example
   * ```ts
   * const bundle = set.getBundleForTrustDomain(TrustDomain.parse('partner.org'));
   * ```
   */
  getBundleForTrustDomain(trustDomain: TrustDomain): SpiffeBundle {
    const bundle = this.get(trustDomain);
    if (bundle === undefined) throw new BundleNotFoundError(trustDomain.name, 'SPIFFE');
    return bundle;
  }

  /**
   * The X.509 bundle of `trustDomain`; throws {@link BundleNotFoundError} when the set has none.
   *
   * @example
   * ```ts
   * verifyX509Svid(peerChain, set);
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    const bundle = this.get(trustDomain);
    if (bundle === undefined) throw new BundleNotFoundError(trustDomain.name, 'X.509');
    return bundle.x509Bundle();
  }

  /**
   * The JWT bundle of `trustDomain`; throws {@link BundleNotFoundError} when the set has none.
   *
   * @example
   * ```ts
   * await parseAndValidateJwtSvid(token, set, 'my-service');
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle {
    const bundle = this.get(trustDomain);
    if (bundle === undefined) throw new BundleNotFoundError(trustDomain.name, 'JWT');
    return bundle.jwtBundle();
  }
}
