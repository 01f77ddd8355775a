/**
 * Trust bundles: the X.509 and JWT authorities of SPIFFE trust domains, as X.509 bundles (PEM or
 * DER), JWT bundles (JWKS) and SPIFFE bundles (SPIFFE Trust Domain and Bundle §4), sets of them
 * keyed by trust domain, the SPIFFE bundle map format, and the source interfaces that SVID
 * verification uses to pick the bundle of a peer's trust domain.
 *
 * Every value is immutable; parsers accept untrusted input and throw only
 * {@link InvalidBundleError} for bad content.
 *
 * @example
 * ```ts
 * import { SpiffeBundle, SpiffeBundleSet } from 'spiffe-sdk/bundle';
 * import { TrustDomain } from 'spiffe-sdk/spiffeid';
 *
 * const td = TrustDomain.parse('partner.org');
 * const bundle = SpiffeBundle.parse(td, responseBody);
 * const set = SpiffeBundleSet.of(ownBundle, bundle);
 * set.getX509BundleForTrustDomain(td).x509Authorities; // partner.org's CA certificates
 * ```
 *
 * @module bundle
 */
export { X509Bundle } from './x509-bundle.js';
export { JwtBundle } from './jwt-bundle.js';
export { SpiffeBundle } from './spiffe-bundle.js';
export { X509BundleSet } from './x509-bundle-set.js';
export { JwtBundleSet } from './jwt-bundle-set.js';
export { SpiffeBundleSet } from './spiffe-bundle-set.js';
export { parseSpiffeBundleMap, marshalSpiffeBundleMap } from './spiffe-bundle-map.js';
export type { X509BundleSource, JwtBundleSource, SpiffeBundleSource } from './source.js';
export { MAX_BUNDLE_DOCUMENT_SIZE, MAX_BUNDLE_DOCUMENT_DEPTH } from './limits.js';
export {
  BundleNotFoundError,
  InvalidArgumentError,
  InvalidBundleError,
  SpiffeError,
} from '../errors.js';
