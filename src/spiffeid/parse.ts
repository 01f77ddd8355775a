import { InvalidSpiffeIdError, InvalidTrustDomainError, type SpiffeIdRule } from '../errors.js';
import { isTrustDomainChar } from './charset.js';
import { MAX_SPIFFE_ID_LENGTH, MAX_TRUST_DOMAIN_LENGTH } from './limits.js';
import { findPathProblem } from './path.js';
import { charHint, describeChar, quoteInput, requireString } from './text.js';

/** The only accepted scheme prefix. Case-sensitive on purpose; see docs/spiffeid.md. */
export const SCHEME_PREFIX = 'spiffe://';

const SLASH = 0x2f;

const TRUST_DOMAIN_CHARS_HINT =
  'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores';

/** The parts of a syntactically valid SPIFFE ID. */
export interface ParsedId {
  readonly trustDomain: string;
  readonly path: string;
}

interface Problem {
  readonly rule: SpiffeIdRule;
  readonly reason: string;
}

function trustDomainCharProblem(s: string, index: number): Problem {
  const code = s.charCodeAt(index);
  return {
    rule: 'trust-domain-char',
    reason: `character ${describeChar(s, index)} at index ${index} is not allowed in the trust domain${charHint(code, true)}; ${TRUST_DOMAIN_CHARS_HINT}`,
  };
}

function trustDomainTooLong(length: number): Problem {
  return {
    rule: 'trust-domain-too-long',
    reason: `the trust domain is ${length} characters long; at most ${MAX_TRUST_DOMAIN_LENGTH} bytes (ASCII characters) are allowed`,
  };
}

/**
 * Checks `spiffe://<trust-domain>[<path>]` exactly as SPIFFE-ID §2 says, in go-spiffe's order (so
 * the first broken rule is the same one go-spiffe reports), plus the length bounds first. Returns
 * the index where the path starts, or the first problem.
 */
function scanId(input: string): number | Problem {
  if (input.length === 0) return { rule: 'empty', reason: 'cannot be empty' };
  // UTF-16 length <= UTF-8 length, and anything non-ASCII is rejected below anyway, so comparing
  // the string length with a byte bound never rejects an ID that fits in the bound.
  if (input.length > MAX_SPIFFE_ID_LENGTH) {
    return {
      rule: 'too-long',
      reason: `the ID is ${input.length} characters long; at most ${MAX_SPIFFE_ID_LENGTH} bytes (ASCII characters) are allowed`,
    };
  }
  if (!input.startsWith(SCHEME_PREFIX)) {
    const upper = input.slice(0, SCHEME_PREFIX.length).toLowerCase() === SCHEME_PREFIX;
    return {
      rule: 'scheme',
      reason: upper
        ? 'scheme is missing or invalid: the scheme must be written "spiffe" in lower case'
        : 'scheme is missing or invalid: a SPIFFE ID starts with "spiffe://"',
    };
  }
  let end = SCHEME_PREFIX.length;
  for (; end < input.length; end++) {
    const code = input.charCodeAt(end);
    if (code === SLASH) break;
    if (!isTrustDomainChar(code)) return trustDomainCharProblem(input, end);
  }
  const tdLength = end - SCHEME_PREFIX.length;
  if (tdLength === 0) return { rule: 'missing-trust-domain', reason: 'trust domain is missing' };
  if (tdLength > MAX_TRUST_DOMAIN_LENGTH) return trustDomainTooLong(tdLength);
  return findPathProblem(input, end) ?? end;
}

/**
 * Parses `spiffe://<trust-domain>[<path>]`. Throws {@link InvalidSpiffeIdError} naming the first
 * broken rule and quoting the whole input.
 */
export function parseIdString(input: string): ParsedId {
  requireString(input, 'a SPIFFE ID');
  const result = scanId(input);
  if (typeof result !== 'number') {
    throw new InvalidSpiffeIdError(
      result.rule,
      input,
      `invalid SPIFFE ID ${quoteInput(input)}: ${result.reason}`,
    );
  }
  return { trustDomain: input.slice(SCHEME_PREFIX.length, result), path: input.slice(result) };
}

/**
 * The trust domain name of a SPIFFE ID string, after validating the whole ID (path included).
 * Throws {@link InvalidTrustDomainError} with the rule the ID broke.
 */
export function trustDomainNameOfId(input: string): string {
  requireString(input, 'a trust domain name or SPIFFE ID');
  const result = scanId(input);
  if (typeof result !== 'number') {
    throw new InvalidTrustDomainError(
      result.rule,
      input,
      `invalid trust domain ${quoteInput(input)} (read as a SPIFFE ID because it contains ":/"): ${result.reason}`,
    );
  }
  return input.slice(SCHEME_PREFIX.length, result);
}

/** Validates a bare trust domain name. Throws {@link InvalidTrustDomainError}. */
export function validateTrustDomainName(name: string): void {
  requireString(name, 'a trust domain name or SPIFFE ID');
  let problem: Problem | undefined;
  if (name.length === 0) {
    problem = { rule: 'missing-trust-domain', reason: 'trust domain is missing' };
  } else if (name.length > MAX_TRUST_DOMAIN_LENGTH) {
    problem = trustDomainTooLong(name.length);
  } else {
    for (let i = 0; i < name.length; i++) {
      if (!isTrustDomainChar(name.charCodeAt(i))) {
        problem = trustDomainCharProblem(name, i);
        break;
      }
    }
  }
  if (problem !== undefined) {
    throw new InvalidTrustDomainError(
      problem.rule,
      name,
      `invalid trust domain ${quoteInput(name)}: ${problem.reason}`,
    );
  }
}
