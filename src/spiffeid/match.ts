import { InvalidArgumentError } from '../errors.js';
import { SpiffeId } from './spiffe-id.js';
import { TrustDomain } from './trust-domain.js';

// Matchers are built from configuration at start-up; a missing or mistyped value (say
// `matchMemberOf(config.trustDomain)` with the key misspelled) should fail there, loudly, rather
// than produce a matcher that silently rejects, or accepts, the wrong peers.
function requireId(value: unknown, what: string): void {
  if (!(value instanceof SpiffeId)) {
    throw new InvalidArgumentError(`${what} expects SpiffeId values (use SpiffeId.parse)`);
  }
}

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
  requireId(expected, 'matchId');
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
  for (const id of expected) requireId(id, 'matchOneOf');
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
  if (!(trustDomain instanceof TrustDomain)) {
    throw new InvalidArgumentError('matchMemberOf expects a TrustDomain (use TrustDomain.parse)');
  }
  return (id) => id.memberOf(trustDomain);
}
