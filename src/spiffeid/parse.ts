import { InvalidSpiffeIdError, InvalidTrustDomainError, type SpiffeIdRule } from '../errors.js';
import { isTrustDomainChar } from './charset.js';
import { MAX_SPIFFE_ID_LENGTH, MAX_TRUST_DOMAIN_LENGTH } from './limits.js';
import { describeChar, validatePath } from './path.js';

/** The only accepted scheme prefix. Case-sensitive on purpose; see docs/spiffeid.md. */
export const SCHEME_PREFIX = 'spiffe://';

const SLASH = 0x2f;

/** The parts of a syntactically valid SPIFFE ID. */
export interface ParsedId {
  readonly trustDomain: string;
  readonly path: string;
}

/**
 * Parses `spiffe://<trust-domain>[<path>]` exactly as SPIFFE-ID §2 says. Throws
 * {@link InvalidSpiffeIdError} naming the first broken rule.
 */
export function parseIdString(input: string): ParsedId {
  if (input.length === 0) {
    throw new InvalidSpiffeIdError('empty', input, 'invalid SPIFFE ID: cannot be empty');
  }
  if (input.length > MAX_SPIFFE_ID_LENGTH) {
    throw new InvalidSpiffeIdError(
      'too-long',
      input,
      `invalid SPIFFE ID: ${input.length} characters exceed the maximum of ${MAX_SPIFFE_ID_LENGTH} bytes`,
    );
  }
  if (!input.startsWith(SCHEME_PREFIX)) {
    throw new InvalidSpiffeIdError(
      'scheme',
      input,
      `invalid SPIFFE ID "${input}": scheme is missing or invalid; a SPIFFE ID starts with "spiffe://" in lower case`,
    );
  }
  let end = SCHEME_PREFIX.length;
  for (; end < input.length; end++) {
    const code = input.charCodeAt(end);
    if (code === SLASH) break;
    if (!isTrustDomainChar(code)) {
      throw new InvalidSpiffeIdError(
        'trust-domain-char',
        input,
        `invalid SPIFFE ID "${input}": character ${describeChar(input, end)} at index ${end} is not allowed in the trust domain; trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores (no port, userinfo, query or fragment)`,
      );
    }
  }
  const trustDomain = input.slice(SCHEME_PREFIX.length, end);
  if (trustDomain.length === 0) {
    throw new InvalidSpiffeIdError(
      'missing-trust-domain',
      input,
      `invalid SPIFFE ID "${input}": trust domain is missing`,
    );
  }
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) {
    throw new InvalidSpiffeIdError(
      'trust-domain-too-long',
      input,
      `invalid SPIFFE ID: the trust domain has ${trustDomain.length} bytes, more than the maximum of ${MAX_TRUST_DOMAIN_LENGTH}`,
    );
  }
  const path = input.slice(end);
  try {
    validatePath(path);
  } catch (err) {
    if (err instanceof InvalidSpiffeIdError) {
      throw new InvalidSpiffeIdError(
        err.rule,
        input,
        err.message.replace('SPIFFE ID path', 'SPIFFE ID'),
      );
    }
    throw err;
  }
  return { trustDomain, path };
}

/** Validates a bare trust domain name. Throws {@link InvalidTrustDomainError}. */
export function validateTrustDomainName(name: string): void {
  if (name.length === 0) {
    throw new InvalidTrustDomainError(
      'missing-trust-domain',
      name,
      'invalid trust domain: trust domain is missing',
    );
  }
  if (name.length > MAX_TRUST_DOMAIN_LENGTH) {
    throw new InvalidTrustDomainError(
      'trust-domain-too-long',
      name,
      `invalid trust domain: ${name.length} characters exceed the maximum of ${MAX_TRUST_DOMAIN_LENGTH} bytes`,
    );
  }
  for (let i = 0; i < name.length; i++) {
    if (!isTrustDomainChar(name.charCodeAt(i))) {
      throw new InvalidTrustDomainError(
        'trust-domain-char',
        name,
        `invalid trust domain "${name}": character ${describeChar(name, i)} at index ${i} is not allowed; trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`,
      );
    }
  }
}

/** Re-throws a SPIFFE ID error as a trust domain error with the same rule. */
export function asTrustDomainError(err: unknown, input: string): unknown {
  if (err instanceof InvalidSpiffeIdError) {
    const rule: SpiffeIdRule = err.rule;
    return new InvalidTrustDomainError(
      rule,
      input,
      err.message.replace('invalid SPIFFE ID', 'invalid trust domain (from SPIFFE ID)'),
    );
  }
  return err;
}
