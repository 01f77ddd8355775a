import type { TrustDomain } from '../spiffeid/index.js';
import type { JwtBundle } from './jwt-bundle.js';
import type { SpiffeBundle } from './spiffe-bundle.js';
import type { X509Bundle } from './x509-bundle.js';

/**
 * Anything that can hand out the X.509 bundle of a trust domain: a bundle, a bundle set, or a
 * Workload API source. Implementations return the current immutable snapshot synchronously and
 * throw {@link BundleNotFoundError} when they have no bundle for `trustDomain`.
 *
 * @example
 * ```ts
 * const bundle = source.getX509BundleForTrustDomain(TrustDomain.parse('example.org'));
 * ```
 */
export interface X509BundleSource {
  /**
   * The X.509 bundle of `trustDomain`. Throws {@link BundleNotFoundError} when there is none.
   *
   * @example
   * ```ts
   * const roots = source.getX509BundleForTrustDomain(peerId.trustDomain).x509Authorities;
   * ```
   */
  getX509BundleForTrustDomain(trustDomain: TrustDomain): X509Bundle;
}

/**
 * Anything that can hand out the JWT bundle of a trust domain. Throws
 * {@link BundleNotFoundError} when there is none.
 *
 * @example
 * ```ts
 * const bundle = source.getJwtBundleForTrustDomain(TrustDomain.parse('example.org'));
 * ```
 */
export interface JwtBundleSource {
  /**
   * The JWT bundle of `trustDomain`. Throws {@link BundleNotFoundError} when there is none.
   *
   * @example
   * ```ts
   * const key = source.getJwtBundleForTrustDomain(subject.trustDomain).findAuthority(kid);
   * ```
   */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle;
}

/**
 * Anything that can hand out the SPIFFE bundle (X.509 and JWT authorities, sequence number and
 * refresh hint) of a trust domain: a {@link SpiffeBundle}, a {@link SpiffeBundleSet}, or a
 * Workload API bundle source. Throws {@link BundleNotFoundError} when there is none. The method
 * name follows go-spiffe's `spiffebundle.Source`.
 *
 * @example
 * ```ts
 * const bundle = source.getBundleForTrustDomain(TrustDomain.parse('example.org'));
 * bundle.sequenceNumber; // e.g. 42n
 * ```
 */
export interface SpiffeBundleSource {
  /**
   * The SPIFFE bundle of `trustDomain`. Throws {@link BundleNotFoundError} when there is none.
   *
   * @example
   * ```ts
   * const bundle = source.getBundleForTrustDomain(TrustDomain.parse('partner.org'));
   * ```
   */
  getBundleForTrustDomain(trustDomain: TrustDomain): SpiffeBundle;
}
