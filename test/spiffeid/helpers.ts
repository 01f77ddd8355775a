// Shared assertions for the spiffeid tests: a rejection must be the right class, code and rule,
// keep the input, and say in its message which rule failed for which input.
import assert from 'node:assert/strict';
import {
  InvalidArgumentError,
  InvalidSpiffeIdError,
  InvalidTrustDomainError,
  SpiffeError,
  type SpiffeIdRule,
} from '../../src/spiffeid/index.js';

/** A phrase each rule's message must contain, so a message that names the wrong rule fails. */
export const RULE_PHRASES: Readonly<Record<SpiffeIdRule, string>> = {
  empty: 'cannot be empty',
  scheme: 'scheme is missing or invalid',
  'missing-trust-domain': 'trust domain is missing',
  'trust-domain-char':
    'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores',
  'trust-domain-too-long': 'at most 255 bytes',
  'path-char':
    'path segment characters are limited to letters, numbers, dots, dashes, and underscores',
  'path-leading-slash': 'path must have a leading slash',
  'path-empty-segment': 'path cannot contain empty segments',
  'path-dot-segment': 'path cannot contain dot segments',
  'path-trailing-slash': 'path cannot have a trailing slash',
  'too-long': 'at most 2048 bytes',
};

/** What the error classes keep in `input`: the first 256 characters. */
export function keptInput(input: string): string {
  return input.length > 256 ? `${input.slice(0, 256)}…` : input;
}

function checkCommon(
  err: SpiffeError & { rule: SpiffeIdRule; input: string },
  rule: SpiffeIdRule,
  input: string,
): void {
  assert.equal(err.rule, rule, `rule for ${JSON.stringify(input.slice(0, 80))}: ${err.message}`);
  assert.equal(err.input, keptInput(input));
  assert.ok(
    err.message.includes(RULE_PHRASES[rule]),
    `message should name rule ${rule}: ${err.message}`,
  );
  assert.ok(
    err.message.includes(JSON.stringify(input.slice(0, 256))),
    `message should quote the input: ${err.message}`,
  );
}

/** Asserts that `fn` throws an {@link InvalidSpiffeIdError} for `rule` about `input`. */
export function assertInvalidId(fn: () => unknown, rule: SpiffeIdRule, input: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(
      err instanceof InvalidSpiffeIdError,
      `expected InvalidSpiffeIdError, got ${String(err)}`,
    );
    assert.ok(err instanceof SpiffeError);
    assert.equal(err.code, 'ERR_SPIFFE_ID_INVALID');
    assert.equal(err.name, 'InvalidSpiffeIdError');
    checkCommon(err, rule, input);
    return true;
  });
}

/** Asserts that `fn` throws an {@link InvalidTrustDomainError} for `rule` about `input`. */
export function assertInvalidTd(fn: () => unknown, rule: SpiffeIdRule, input: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(
      err instanceof InvalidTrustDomainError,
      `expected InvalidTrustDomainError, got ${String(err)}`,
    );
    assert.ok(err instanceof SpiffeError);
    assert.equal(err.code, 'ERR_SPIFFE_TRUST_DOMAIN_INVALID');
    assert.equal(err.name, 'InvalidTrustDomainError');
    checkCommon(err, rule, input);
    return true;
  });
}

/** Asserts that `fn` throws an {@link InvalidArgumentError} whose message contains `phrase`. */
export function assertInvalidArgument(fn: () => unknown, phrase: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(
      err instanceof InvalidArgumentError,
      `expected InvalidArgumentError, got ${String(err)}`,
    );
    assert.equal(err.code, 'ERR_SPIFFE_INVALID_ARGUMENT');
    assert.ok(err.message.includes(phrase), err.message);
    return true;
  });
}

/** `n` characters of an allowed path character. */
export function pathOfLength(n: number): string {
  assert.ok(n >= 2);
  return `/${'p'.repeat(n - 1)}`;
}
