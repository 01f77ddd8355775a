// Argument checks shared by the federation functions. Internal.
import { InvalidArgumentError } from '../errors.js';
import { TrustDomain } from '../spiffeid/index.js';

/** A TrustDomain, or a parsed trust domain name; throws for anything else. */
export function toTrustDomain(value: unknown, what: string): TrustDomain {
  if (value instanceof TrustDomain) return value;
  if (typeof value === 'string') return TrustDomain.parse(value);
  throw new InvalidArgumentError(`${what}: the trust domain must be a TrustDomain or a name`);
}

/** An optional integer option within bounds, or `fallback`; throws InvalidArgumentError. */
export function integerOption(
  value: unknown,
  name: string,
  min: number,
  max: number,
  fallback: number,
  what: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what}: ${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** setTimeout's largest delay in milliseconds. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;
