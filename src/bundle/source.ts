import type { TrustDomain } from '../spiffeid/index.js';
import type { JwtBundle } from './jwt-bundle.js';
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
  getJwtBundleForTrustDomain(trustDomain: TrustDomain): JwtBundle;
}
