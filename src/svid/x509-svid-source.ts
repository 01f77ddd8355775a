import type { X509Svid } from './x509-svid.js';

/**
 * Anything that can hand out the current X509-SVID: an {@link X509Svid} itself, or a Workload API
 * source that keeps one up to date. Synchronous, because TLS callbacks that need the SVID cannot
 * wait; implementations return their current immutable snapshot.
 *
 * @example
 * ```ts
 * import type { X509SvidSource } from 'spiffe-sdk/svid';
 *
 * function currentIdentity(source: X509SvidSource): string {
 *   return source.getX509Svid().id.toString();
 * }
 * ```
 */
export interface X509SvidSource {
  /** The current X509-SVID. */
  getX509Svid(): X509Svid;
}
