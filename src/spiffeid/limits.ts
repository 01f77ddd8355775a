/**
 * Hardening bounds. SPIFFE-ID §2.3 says implementations MUST support SPIFFE IDs of up to 2048 bytes
 * and that a trust domain name (a URI host) is at most 255 bytes. Nothing longer is ever issued by a
 * conforming issuer, so the SDK rejects longer input rather than spend time and memory on it.
 */

/** The longest SPIFFE ID accepted, in bytes, including `spiffe://`. */
export const MAX_SPIFFE_ID_LENGTH = 2048;

/** The longest trust domain name accepted, in bytes. */
export const MAX_TRUST_DOMAIN_LENGTH = 255;
