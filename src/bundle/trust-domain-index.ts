import { InvalidArgumentError } from '../errors.js';
import type { TrustDomain } from '../spiffeid/index.js';
import { FrozenMap } from './frozen-map.js';

/** What every bundle kind has in common for the sets. */
interface Keyed {
  readonly trustDomain: TrustDomain;
}

/** The class of the bundles a set holds, and its name for messages. */
export interface BundleKind<B> {
  readonly is: (value: unknown) => value is B;
  readonly label: string;
}

/**
 * The shared storage of the bundle sets: bundles by trust domain name (a later bundle for the same
 * trust domain replaces an earlier one), and the bundles sorted by trust domain name. Immutable.
 * Internal; each set class wraps one.
 */
export class TrustDomainIndex<B extends Keyed> {
  readonly byName: ReadonlyMap<string, B>;
  readonly sorted: readonly B[];

  constructor(bundles: Iterable<B>, kind: BundleKind<B>) {
    const map = new Map<string, B>();
    for (const bundle of bundles) {
      if (!kind.is(bundle)) {
        throw new InvalidArgumentError(
          `a ${kind.label} bundle set holds only ${kind.label} bundles`,
        );
      }
      map.set(bundle.trustDomain.name, bundle);
    }
    this.sorted = Object.freeze(
      [...map.values()].sort((a, b) => a.trustDomain.compare(b.trustDomain)),
    );
    this.byName = new FrozenMap(this.sorted.map((b) => [b.trustDomain.name, b] as const));
    Object.freeze(this);
  }

  /** Whether both hold bundles for the same trust domains, pairwise equal by `equal`. */
  equals(other: TrustDomainIndex<B>, equal: (a: B, b: B) => boolean): boolean {
    if (this.sorted.length !== other.sorted.length) return false;
    return this.sorted.every((bundle, i) => {
      const o = other.sorted[i];
      return o !== undefined && equal(bundle, o);
    });
  }
}
