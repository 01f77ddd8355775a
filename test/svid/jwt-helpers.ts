// Shared fixtures and assertions for the JWT-SVID tests.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type { JwtBundle } from '../../src/bundle/jwt-bundle.js';
import type { JwtBundleSource } from '../../src/bundle/source.js';
import {
  BundleNotFoundError,
  InvalidJwtSvidError,
  SpiffeError,
  type JwtSvidFailure,
} from '../../src/errors.js';
import type { TrustDomain } from '../../src/spiffeid/index.js';

/** A fixed "now" for every test that injects the clock. */
export const NOW = new Date('2031-05-01T12:00:00Z');
export const NOW_S = NOW.getTime() / 1000;
export const AUD = 'spiffe://example.org/reports';
export const SUB = 'spiffe://example.org/web';

/** A bundle source over several bundles, written here so the tests do not depend on src sets. */
export function sourceOf(...bundles: JwtBundle[]): JwtBundleSource {
  return {
    getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle {
      const found = bundles.find((b) => b.trustDomain.equals(td));
      if (found === undefined) throw new BundleNotFoundError(td.name, 'JWT');
      return found;
    },
  };
}

/**
 * Asserts that `error` is an SDK error that does not leak `token` (message, stack, inspect, JSON,
 * and the same for its causes).
 */
export function assertNoLeak(error: unknown, token: string): void {
  assert.ok(error instanceof SpiffeError, `expected a SpiffeError, got ${String(error)}`);
  if (token.length < 16) return; // a short token is a substring of many words
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const views = [current.message, current.stack ?? '', inspect(current), JSON.stringify(current)];
    for (const view of views) {
      assert.ok(!view.includes(token), `the token leaked into: ${view.slice(0, 200)}`);
    }
    current = current.cause;
  }
}

/** Awaits a rejection with InvalidJwtSvidError of `reason` that does not leak the token. */
export async function rejectsWith(
  promise: Promise<unknown>,
  reason: JwtSvidFailure,
  token: string,
  messageIncludes?: string | RegExp,
): Promise<InvalidJwtSvidError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a rejection with reason "${reason}", but it passed`);
  assert.ok(
    caught instanceof InvalidJwtSvidError,
    `expected InvalidJwtSvidError, got ${inspect(caught)}`,
  );
  assert.equal(caught.reason, reason, `reason: ${caught.message}`);
  assert.equal(caught.code, 'ERR_SPIFFE_JWT_SVID_INVALID');
  assert.match(caught.message, /^invalid JWT-SVID: /);
  if (typeof messageIncludes === 'string')
    assert.ok(caught.message.includes(messageIncludes), caught.message);
  else if (messageIncludes !== undefined) assert.match(caught.message, messageIncludes);
  assertNoLeak(caught, token);
  return caught;
}
