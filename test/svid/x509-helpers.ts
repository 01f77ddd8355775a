import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import type { X509BundleSource } from '../../src/bundle/source.js';
import type { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { BundleNotFoundError, SpiffeError, X509SvidVerificationError } from '../../src/errors.js';
import { verifyX509Svid } from '../../src/svid/verify-x509-svid.js';
import type { TrustDomain } from '../../src/spiffeid/index.js';

/** A minimal bundle source over several bundles (keeps these tests independent of the bundle set). */
export function bundles(...list: readonly X509Bundle[]): X509BundleSource {
  return {
    getX509BundleForTrustDomain(td: TrustDomain): X509Bundle {
      const found = list.find((b) => b.trustDomain.equals(td));
      if (found === undefined) throw new BundleNotFoundError(td.name, 'X.509');
      return found;
    },
  };
}

/** Asserts that `fn` throws an instance of `type` whose message matches `pattern`. */
export function assertThrows(
  fn: () => unknown,
  type: new (...args: never[]) => SpiffeError,
  pattern: RegExp,
): SpiffeError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

/** DER of each certificate. */
export function ders(chain: readonly X509Certificate[]): Uint8Array[] {
  return chain.map((c) => new Uint8Array(c.raw));
}

/** Asserts that verifying `chain` against `source` (at `time`) fails with a message matching `pattern`. */
export function rejects(
  chain: readonly X509Certificate[],
  source: X509BundleSource,
  pattern: RegExp,
  time?: Date,
): void {
  assertThrows(
    () => verifyX509Svid(chain, source, time === undefined ? {} : { time }),
    X509SvidVerificationError,
    pattern,
  );
}

/**
 * Asserts that `chain` verifies against `source` (at `time`) as `id`, with every verified chain
 * starting at the presented leaf, and returns the verified chains.
 */
export function accepts(
  chain: readonly X509Certificate[],
  source: X509BundleSource,
  id: string,
  time?: Date,
): readonly (readonly X509Certificate[])[] {
  const result = verifyX509Svid(chain, source, time === undefined ? {} : { time });
  assert.equal(result.id.toString(), id);
  assert.ok(result.verifiedChains.length > 0);
  for (const c of result.verifiedChains) assert.ok(c[0] === chain[0]);
  return result.verifiedChains;
}
