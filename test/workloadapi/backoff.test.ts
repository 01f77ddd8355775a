import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/errors.js';
import { exponentialBackoff, linearBackoff } from '../../src/workloadapi/index.js';

function take(next: () => number, n: number): number[] {
  return Array.from({ length: n }, next);
}

describe('exponentialBackoff', () => {
  it('doubles from the initial delay up to the maximum (no jitter)', () => {
    const b = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }).newBackoff();
    assert.deepEqual(
      take(() => b.next(), 7),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
  });

  it('starts over after reset()', () => {
    const b = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }).newBackoff();
    take(() => b.next(), 5);
    b.reset();
    assert.deepEqual(
      take(() => b.next(), 2),
      [100, 200],
    );
  });

  it('jitter shortens each delay by up to the jitter fraction', () => {
    const low = exponentialBackoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0.999999 });
    const high = exponentialBackoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0 });
    assert.equal(low.newBackoff().next(), 500);
    assert.equal(high.newBackoff().next(), 1000);
  });

  it('defaults: about 1 s first, never above 30 s, never below half the step', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 0.999999, noNaN: true }), fc.nat(40), (r, n) => {
        const b = exponentialBackoff({ random: () => r }).newBackoff();
        const delays = take(() => b.next(), n + 1);
        const last = delays.at(-1) ?? 0;
        const base = Math.min(30_000, 1000 * 2 ** n);
        return (
          last <= 30_000 && last >= base / 2 && (delays[0] ?? 0) >= 500 && (delays[0] ?? 0) <= 1000
        );
      }),
    );
  });

  it('each backoff is independent', () => {
    const s = exponentialBackoff({ initialDelayMs: 10, jitter: 0 });
    const a = s.newBackoff();
    a.next();
    a.next();
    assert.equal(s.newBackoff().next(), 10);
  });

  it('rejects nonsensical options', () => {
    for (const options of [
      { initialDelayMs: -1 },
      { initialDelayMs: NaN },
      { maxDelayMs: 10, initialDelayMs: 20 },
      { multiplier: 0.5 },
      { jitter: 1.5 },
      { jitter: -0.1 },
    ]) {
      assert.throws(
        () => exponentialBackoff(options),
        InvalidArgumentError,
        JSON.stringify(options),
      );
    }
    assert.doesNotThrow(() => exponentialBackoff({ initialDelayMs: 0, jitter: 1, multiplier: 1 }));
  });
});

describe('linearBackoff (go-spiffe parity)', () => {
  it('1 s, 2 s, … 30 s, 30 s; reset starts over', () => {
    const b = linearBackoff().newBackoff();
    const delays = take(() => b.next(), 32);
    assert.deepEqual(delays.slice(0, 3), [1000, 2000, 3000]);
    assert.deepEqual(delays.slice(28), [29_000, 30_000, 30_000, 30_000]);
    b.reset();
    assert.equal(b.next(), 1000);
  });

  it('rejects nonsensical options', () => {
    assert.throws(() => linearBackoff({ stepMs: -1 }), InvalidArgumentError);
    assert.throws(() => linearBackoff({ stepMs: 10, maxDelayMs: 5 }), InvalidArgumentError);
  });
});
