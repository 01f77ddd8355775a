import type { X509Bundle } from '../bundle/x509-bundle.js';
import type { X509BundleSet } from '../bundle/index.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { X509Svid } from '../svid/x509-svid.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * One complete `FetchX509SVID` update: every X509-SVID the workload is entitled to (the first is
 * the default identity, Workload API §8) and the X.509 bundles it trusts (its own trust domains'
 * and the federated ones). Immutable.
 *
 * @example
 * ```ts
 * const context = await client.fetchX509Context();
 * context.defaultSvid.id.toString();           // 'spiffe://example.org/web'
 * context.svidByHint('external')?.id;          // the SVID the operator labelled "external"
 * context.bundles.getX509BundleForTrustDomain(TrustDomain.parse('partner.org'));
 * ```
 */
export class X509Context {
  /**
   * The X509-SVIDs in the agent's order, never empty. Of several SVIDs with the same non-empty
   * hint only the first is kept (Workload API §5.2.1).
   */
  readonly svids: readonly X509Svid[];
  /** Every trusted X.509 bundle: own trust domains first-come, then federated ones. */
  readonly bundles: X509BundleSet;

  readonly #default: X509Svid;

  /**
   * A context of `svids` (at least one; the first is the default) and `bundles`. The client builds
   * these from checked responses; build one yourself for tests or static configurations. Throws
   * {@link InvalidArgumentError} when `svids` is empty.
   *
   * @example
   * ```ts
   * const context = new X509Context([svid], X509BundleSet.of(ca.x509Bundle()));
   * ```
   */
  constructor(svids: readonly X509Svid[], bundles: X509BundleSet) {
    const [first] = svids;
    if (first === undefined) throw new InvalidArgumentError('an X.509 context needs an X509-SVID');
    this.#default = first;
    this.svids = Object.freeze([...svids]);
    this.bundles = bundles;
    Object.freeze(this);
  }

  /**
   * The default identity: the first SVID of the response (Workload API §8).
   *
   * @example
   * ```ts
   * const svid = context.defaultSvid;
   * ```
   */
  get defaultSvid(): X509Svid {
    return this.#default;
  }

  /**
   * The SVID with this (non-empty) hint, or `undefined`.
   *
   * @example
   * ```ts
   * const internal = context.svidByHint('internal') ?? context.defaultSvid;
   * ```
   */
  svidByHint(hint: string): X509Svid | undefined {
    if (hint === '') return undefined;
    return this.svids.find((s) => s.hint === hint);
  }

  /**
   * The X.509 bundle of `trustDomain`; throws {@link BundleNotFoundError} when it is not trusted.
   *
   * @example
   * ```ts
   * const bundle = context.getX509BundleForTrustDomain(peerId.trustDomain);
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    return this.bundles.getX509BundleForTrustDomain(trustDomain);
  }

  /**
   * Whether `other` holds the same SVIDs (IDs, hints and certificate chains, in order) and the
   * same bundles. Sources use it to skip updates that change nothing.
   *
   * @example
   * ```ts
   * if (!next.equals(previous)) reload(next);
   * ```
   */
  equals(other: X509Context): boolean {
    if (this === other) return true;
    if (this.svids.length !== other.svids.length) return false;
    const sameSvids = this.svids.every((svid, i) => {
      const o = other.svids[i];
      return (
        o?.hint === svid.hint &&
        o.id.equals(svid.id) &&
        o.certificates.length === svid.certificates.length &&
        // The key is checked to match the leaf at parse time, so equal chains imply equal keys.
        o.certificates.every((c, j) => svid.certificates[j]?.raw.equals(c.raw) === true)
      );
    });
    return sameSvids && this.bundles.equals(other.bundles);
  }
}
