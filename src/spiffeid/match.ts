import type { SpiffeId } from './spiffe-id.js';
import type { TrustDomain } from './trust-domain.js';

/**
 * A predicate over SPIFFE IDs: `true` when the ID is acceptable. The TLS authorizers and the
 * JWT-SVID request helpers take matchers.
 *
 * @example
 * ```ts
 * const onlyBilling: Matcher = (id) => id.path.startsWith('/billing/');
 * ```
 */
export type Matcher = (id: SpiffeId) => boolean;

/**
 * A matcher that accepts every SPIFFE ID. Authentication still happens; only authorization is
 * skipped.
 *
 * @example
 * ```ts
 * matchAny()(SpiffeId.parse('spiffe://a.org/anything')); // true
 * ```
 */
export function matchAny(): Matcher {
  return () => true;
}

/**
 * A matcher that accepts exactly `expected`.
 *
 * @example
 * ```ts
 * const m = matchId(SpiffeId.parse('spiffe://a.org/web'));
 * m(SpiffeId.parse('spiffe://a.org/web')); // true
 * m(SpiffeId.parse('spiffe://a.org/db'));  // false
 * ```
 */
export function matchId(expected: SpiffeId): Matcher {
  return (id) => id.equals(expected);
}

/**
 * A matcher that accepts any of `expected`. With no IDs it accepts nothing.
 *
 * @example
 * ```ts
 * const m = matchOneOf(SpiffeId.parse('spiffe://a.org/web'), SpiffeId.parse('spiffe://a.org/api'));
 * ```
 */
export function matchOneOf(...expected: readonly SpiffeId[]): Matcher {
  const allowed = new Set(expected.map((id) => id.toString()));
  return (id) => allowed.has(id.toString());
}

/**
 * A matcher that accepts every ID in `trustDomain`.
 *
 * @example
 * ```ts
 * const m = matchMemberOf(TrustDomain.parse('a.org'));
 * m(SpiffeId.parse('spiffe://a.org/web')); // true
 * m(SpiffeId.parse('spiffe://b.org/web')); // false
 * ```
 */
export function matchMemberOf(trustDomain: TrustDomain): Matcher {
  return (id) => id.memberOf(trustDomain);
}
