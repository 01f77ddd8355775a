import { InvalidArgumentError, TlsConfigurationError } from '../errors.js';
import { X509Bundle } from '../bundle/x509-bundle.js';
import { X509BundleSet } from '../bundle/x509-bundle-set.js';
import type { X509BundleSource } from '../bundle/source.js';
import type { TrustDomain } from '../spiffeid/index.js';
import type { X509Svid } from '../svid/x509-svid.js';
import type { X509SvidSource } from '../svid/x509-svid-source.js';

/**
 * The optional change notification of a source. `onUpdate` registers a listener that is called
 * after the source's material changed and returns a function that unsubscribes it. A source
 * without `onUpdate` never changes.
 *
 * @example
 * ```ts
 * const unsubscribe = source.onUpdate?.(() => console.log('new SVID or bundles'));
 * unsubscribe?.();
 * ```
 */
export interface SourceUpdates {
  /** Calls `listener` after every change; returns the function that unsubscribes it. */
  onUpdate?(listener: () => void): () => void;
}

/**
 * Where the TLS layer gets the trust bundles it authenticates peers with: every trusted X.509
 * bundle (own trust domain and federated ones) as one immutable snapshot. Modes that only
 * authenticate the peer (the TLS client, the mTLS server that presents a Web PKI certificate)
 * need nothing more.
 *
 * @example
 * ```ts
 * const trust: X509TrustSource = staticX509Source(undefined, bundleSet);
 * const client = tlsClient(trust, authorizeId(serverId));
 * ```
 */
export interface X509TrustSource extends X509BundleSource, SourceUpdates {
  /** Every trusted X.509 bundle now (own and federated): an immutable snapshot. */
  getX509BundleSet(): X509BundleSet;
  /** The current bundle of `trustDomain`; throws `BundleNotFoundError` when there is none. */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle;
}

/**
 * The source contract of the TLS layer: the workload's current X509-SVID and every trusted X.509
 * bundle, with an optional change notification. The Workload API `X509Source` satisfies it, and
 * so do {@link staticX509Source} and {@link MutableX509Source}.
 *
 * @example
 * ```ts
 * const source: X509MaterialSource = staticX509Source(svid, bundleSet);
 * const server = createHttpsServer(mtlsServer(source, authorizeMemberOf(td)), {}, handler);
 * ```
 */
export interface X509MaterialSource extends X509SvidSource, X509TrustSource {
  /** The current X509-SVID. */
  getX509Svid(): X509Svid;
  /** Every trusted X.509 bundle now (own and federated): an immutable snapshot. */
  getX509BundleSet(): X509BundleSet;
  /** The current bundle of `trustDomain`; throws `BundleNotFoundError` when there is none. */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle;
  /** Calls `listener` after the SVID or the bundles changed; returns the unsubscribe function. */
  onUpdate?(listener: () => void): () => void;
}

function toBundleSet(bundles: X509BundleSet | X509Bundle, what: string): X509BundleSet {
  if (bundles instanceof X509BundleSet) return bundles;
  if (bundles instanceof X509Bundle) return X509BundleSet.of(bundles);
  throw new InvalidArgumentError(`${what}: expected an X509BundleSet or an X509Bundle`);
}

function noSvid(): never {
  throw new TlsConfigurationError(
    'this source holds no X509-SVID: it was created without one (modes that present an SVID need one)',
  );
}

/**
 * A source of fixed material: `svid` (or none, for modes that only authenticate peers) and
 * `bundles`. It never changes, so it has no `onUpdate`. `getX509Svid()` throws
 * {@link TlsConfigurationError} when it was created without an SVID.
 *
 * @example
 * ```ts
 * const source = staticX509Source(svid, X509BundleSet.of(ownBundle, partnerBundle));
 * const trustOnly = staticX509Source(undefined, ownBundle);
 * ```
 */
export function staticX509Source(
  svid: X509Svid | undefined,
  bundles: X509BundleSet | X509Bundle,
): X509MaterialSource {
  const set = toBundleSet(bundles, 'staticX509Source');
  return Object.freeze({
    getX509Svid: (): X509Svid => svid ?? noSvid(),
    getX509BundleSet: (): X509BundleSet => set,
    getX509BundleForTrustDomain: (trustDomain: TrustDomain): X509Bundle =>
      set.getX509BundleForTrustDomain(trustDomain),
  });
}

/**
 * An in-memory source whose SVID and bundles can be replaced at any time; every change notifies
 * the `onUpdate` listeners synchronously. Handy for tests and for applications that load their
 * material from files and rotate it themselves. Each snapshot it hands out is immutable.
 *
 * @example
 * ```ts
 * const source = new MutableX509Source(svid, bundleSet);
 * const server = createHttpsServer(mtlsServer(source, authorizeAny()), {}, handler);
 * source.update({ svid: renewedSvid });           // the server presents it on new connections
 * source.update({ bundles: bundleSet.without(td) }); // td's peers are refused from now on
 * ```
 */
export class MutableX509Source implements X509MaterialSource {
  #svid: X509Svid | undefined;
  #bundles: X509BundleSet;
  readonly #listeners = new Set<() => void>();

  /**
   * A source holding `svid` (optional) and `bundles`.
   *
   * @example
   * ```ts
   * const source = new MutableX509Source(undefined, X509BundleSet.of(bundle));
   * ```
   */
  constructor(svid: X509Svid | undefined, bundles: X509BundleSet | X509Bundle) {
    this.#svid = svid;
    this.#bundles = toBundleSet(bundles, 'MutableX509Source');
  }

  /**
   * The current SVID; throws {@link TlsConfigurationError} when the source holds none.
   *
   * @example
   * ```ts
   * source.getX509Svid().id.toString();
   * ```
   */
  getX509Svid(): X509Svid {
    return this.#svid ?? noSvid();
  }

  /**
   * The current bundle set.
   *
   * @example
   * ```ts
   * source.getX509BundleSet().size;
   * ```
   */
  getX509BundleSet(): X509BundleSet {
    return this.#bundles;
  }

  /**
   * The current bundle of `trustDomain`; throws `BundleNotFoundError` when there is none.
   *
   * @example
   * ```ts
   * source.getX509BundleForTrustDomain(TrustDomain.parse('example.org'));
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle {
    return this.#bundles.getX509BundleForTrustDomain(trustDomain);
  }

  /**
   * Replaces the SVID and/or the bundles in one step, then calls every listener. A listener that
   * throws does not stop the others; the first error is rethrown after all have run.
   *
   * @example
   * ```ts
   * source.update({ svid: next, bundles: X509BundleSet.of(ownBundle) });
   * ```
   */
  update(change: { svid?: X509Svid | undefined; bundles?: X509BundleSet | X509Bundle }): void {
    const bundles =
      change.bundles === undefined
        ? this.#bundles
        : toBundleSet(change.bundles, 'MutableX509Source.update');
    if ('svid' in change) this.#svid = change.svid;
    this.#bundles = bundles;
    let first: { error: unknown } | undefined;
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (error) {
        first ??= { error };
      }
    }
    if (first !== undefined) throw first.error;
  }

  /**
   * Registers `listener` for changes; returns the function that unsubscribes it.
   *
   * @example
   * ```ts
   * const off = source.onUpdate(() => console.log('rotated'));
   * off();
   * ```
   */
  onUpdate(listener: () => void): () => void {
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError('onUpdate: the listener must be a function');
    }
    const entry = (): void => {
      listener();
    };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * How many listeners are registered (for leak checks in tests).
   *
   * @example
   * ```ts
   * await server.close(); source.listenerCount; // 0
   * ```
   */
  get listenerCount(): number {
    return this.#listeners.size;
  }
}
