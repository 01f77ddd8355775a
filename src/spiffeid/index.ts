/**
 * SPIFFE IDs and trust domains, parsed and validated exactly as the SPIFFE-ID standard says, and
 * matchers that decide which IDs are acceptable.
 *
 * @example
 * ```ts
 * import { SpiffeId, TrustDomain, matchMemberOf } from 'spiffe-sdk/spiffeid';
 *
 * const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web');
 * const sameDomain = matchMemberOf(TrustDomain.parse('example.org'));
 * sameDomain(id); // true
 * ```
 *
 * @module spiffeid
 */
export { SpiffeId } from './spiffe-id.js';
export { TrustDomain } from './trust-domain.js';
export { validatePath, validatePathSegment } from './path.js';
export { matchAny, matchId, matchMemberOf, matchOneOf, type Matcher } from './match.js';
export { MAX_SPIFFE_ID_LENGTH, MAX_TRUST_DOMAIN_LENGTH } from './limits.js';
export {
  InvalidArgumentError,
  InvalidSpiffeIdError,
  InvalidTrustDomainError,
  SpiffeError,
  type SpiffeIdRule,
} from '../errors.js';
