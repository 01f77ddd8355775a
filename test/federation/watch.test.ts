// watchBundle: refresh scheduling (driven by a fake clock, never by waiting), change detection,
// error handling with the last good bundle, https_spiffe key rotation, and its lifecycle.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle } from '../../src/bundle/index.js';
import { BundleNotFoundError, ClosedError, InvalidArgumentError } from '../../src/errors.js';
import {
  type BundleWatch,
  fetchBundle,
  watchBundle,
  type WatchBundleOptions,
} from '../../src/federation/index.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { BundleEndpointServer, TestCA } from '../../src/testing/index.js';
import { exponentialBackoff } from '../../src/workloadapi/index.js';
import { assertFailure, failure, FakeClock, rejection, webAuth } from './helpers.js';

const TD = 'a.test';
let ca: TestCA;
let base: SpiffeBundle;
let server: BundleEndpointServer;

before(async () => {
  ca = await TestCA.create({ trustDomain: TD });
  base = SpiffeBundle.fromX509Bundle(ca.x509Bundle()).withSequenceNumber(1n);
  server = await BundleEndpointServer.create({
    profile: 'https_web',
    trustDomain: TD,
    bundle: base,
  });
});
after(async () => {
  await server.close();
});

/** A watch of the shared web server on a fake clock; the server serves `bundle`. */
function watchWeb(
  bundle: SpiffeBundle,
  options: Partial<WatchBundleOptions> = {},
): { watch: BundleWatch; clock: FakeClock } {
  server.clearFault();
  server.setBundle(bundle);
  const clock = new FakeClock();
  const watch = watchBundle(TD, server.url, { auth: webAuth(server), clock, ...options });
  return { watch, clock };
}

/** The delay the watch scheduled after its first fetch, with `bundle` served. */
async function firstDelay(
  bundle: SpiffeBundle,
  options: Partial<WatchBundleOptions> = {},
): Promise<number> {
  const { watch, clock } = watchWeb(bundle, options);
  try {
    return await clock.waitForTimer(1);
  } finally {
    await watch.close();
  }
}

describe('watchBundle: refresh scheduling (Federation §4.1, TD&B §4.1.2)', () => {
  it('refreshes after the refresh hint', async () => {
    assert.equal(await firstDelay(base.withRefreshHint(120)), 120_000);
  });

  it('raises a hint below minRefresh (default 60 s) to it', async () => {
    assert.equal(await firstDelay(base.withRefreshHint(5)), 60_000);
    assert.equal(await firstDelay(base.withRefreshHint(0)), 60_000);
    // Control: with a lower floor the hint is used as is.
    assert.equal(await firstDelay(base.withRefreshHint(5), { minRefresh: 1_000 }), 5_000);
  });

  it('lowers a hint above maxRefresh (default 1 h) to it', async () => {
    assert.equal(await firstDelay(base.withRefreshHint(2_419_200)), 3_600_000);
    assert.equal(
      await firstDelay(base.withRefreshHint(2_419_200), { maxRefresh: 2_000_000_000 }),
      2_000_000_000,
    );
  });

  it('uses defaultRefresh (default 5 min) when the bundle has no hint', async () => {
    assert.equal(await firstDelay(base), 300_000);
    assert.equal(await firstDelay(base, { defaultRefresh: 90_000 }), 90_000);
  });

  it('reports the next refresh time on its clock', async () => {
    const { watch, clock } = watchWeb(base.withRefreshHint(120));
    await clock.waitForTimer(1);
    assert.equal(watch.nextRefreshAt, clock.now() + 120_000);
    await watch.close();
    assert.equal(watch.nextRefreshAt, undefined);
  });

  it('refuses refresh bounds that are not integers in range, or min above max', () => {
    const bad: Partial<WatchBundleOptions>[] = [
      { minRefresh: 0 },
      { maxRefresh: 2 ** 31 },
      { minRefresh: 10_000, maxRefresh: 5_000 },
      { defaultRefresh: 1.5 },
      { clock: { now: () => 0 } as unknown as FakeClock },
      { backoff: {} as ReturnType<typeof exponentialBackoff> },
      { initialBundle: SpiffeBundle.empty(TrustDomain.parse('b.test')) },
    ];
    for (const options of bad) {
      assert.throws(
        () => watchBundle(TD, server.url, { auth: webAuth(server), ...options }),
        InvalidArgumentError,
        JSON.stringify(Object.keys(options)),
      );
    }
  });
});

describe('watchBundle: updates', () => {
  it('yields the first bundle, then only bundles that changed', async () => {
    const { watch, clock } = watchWeb(base);
    const seen: SpiffeBundle[] = [];
    const iterator = watch[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.ok(first.done !== true && first.value.equals(base));
    seen.push(first.value);
    const third = iterator.next();

    // Fetch 2: the same content in a new object yields nothing.
    server.setBundle(SpiffeBundle.parse(base.trustDomain, base.marshal()));
    clock.fire();
    await clock.waitForTimer(2);
    // Fetch 3: a new sequence number is a change.
    const changed = base.withSequenceNumber(2n);
    server.setBundle(changed);
    clock.fire();
    const next = await third;
    assert.ok(next.done !== true);
    seen.push(next.value);
    assert.deepEqual(
      seen.map((b) => b.sequenceNumber),
      [1n, 2n],
      'the unchanged second fetch was not yielded in between',
    );
    assert.equal(watch.latest, next.value);
    await watch.close();
  });

  it('counts a changed refresh hint or key as a change', async () => {
    const { watch, clock } = watchWeb(base);
    const iterator = watch[Symbol.asyncIterator]();
    await iterator.next();
    const other = await TestCA.create({ trustDomain: TD });
    for (const next of [
      base.withRefreshHint(600),
      base.withX509Authority(other.x509Authorities[0]!),
    ]) {
      server.setBundle(next);
      clock.fire();
      const result = await iterator.next();
      assert.ok(result.done !== true && result.value.equals(next));
    }
    await watch.close();
  });

  it('starts a new iteration with the latest bundle', async () => {
    const { watch } = watchWeb(base);
    const bundle = await watch.waitForBundle();
    for await (const b of watch) {
      assert.equal(b, bundle);
      break; // ends this iteration only
    }
    assert.equal(watch.closed, false);
    assert.equal((await watch[Symbol.asyncIterator]().next()).value, bundle);
    await watch.close();
  });

  it('gives a slow consumer the newest bundle, not a backlog', async () => {
    const { watch, clock } = watchWeb(base);
    const iterator = watch[Symbol.asyncIterator]();
    await watch.waitForBundle();
    await iterator.next(); // the first bundle
    for (const seq of [2n, 3n]) {
      server.setBundle(base.withSequenceNumber(seq));
      clock.fire();
      await clock.waitForTimer(Number(seq));
    }
    const result = await iterator.next();
    assert.ok(result.done !== true);
    assert.equal(result.value.sequenceNumber, 3n);
    await watch.close();
  });

  it('starts from initialBundle and yields it first', async () => {
    const initial = base.withSequenceNumber(0n);
    const { watch } = watchWeb(base, { initialBundle: initial });
    assert.equal(watch.latest, initial);
    const iterator = watch[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value, initial);
    const fetched = await iterator.next();
    assert.ok(fetched.done !== true && fetched.value.equals(base));
    await watch.close();
  });

  it('is a bundle source for its trust domain once it has a bundle', async () => {
    const { watch } = watchWeb(base);
    const td = TrustDomain.parse(TD);
    assert.throws(() => watch.getBundleForTrustDomain(td), BundleNotFoundError);
    await watch.waitForBundle();
    assert.equal(watch.getBundleForTrustDomain(td), watch.latest);
    assert.equal(watch.getX509BundleForTrustDomain(td), watch.latest?.x509Bundle());
    assert.equal(watch.getJwtBundleForTrustDomain(td), watch.latest?.jwtBundle());
    assert.throws(
      () => watch.getX509BundleForTrustDomain(TrustDomain.parse('b.test')),
      BundleNotFoundError,
    );
    await watch.close();
  });
});

describe('watchBundle: errors (Federation §6.2)', () => {
  it('keeps the last good bundle across errors and recovers', async () => {
    const errors: Error[] = [];
    const { watch, clock } = watchWeb(base, {
      defaultRefresh: 120_000,
      backoff: exponentialBackoff({ initialDelayMs: 1_000, random: () => 0 }),
      onError: (err) => errors.push(err),
    });
    const iterator = watch[Symbol.asyncIterator]();
    const good = await iterator.next();
    assert.ok(good.done !== true);
    const pending = iterator.next();

    server.setFault({ kind: 'status', status: 503 });
    clock.fire();
    await clock.waitForTimer(2);
    server.setFault({ kind: 'invalid-json' });
    clock.fire();
    await clock.waitForTimer(3);
    assert.deepEqual(
      errors.map((e) => (e as { reason?: string }).reason),
      ['status', 'invalid-bundle'],
    );
    assert.equal(watch.latest, good.value, 'the last good bundle stays');
    assert.equal(watch.lastError, errors[1]);
    assert.equal(watch.closed, false);
    assert.deepEqual(clock.scheduled, [120_000, 1_000, 2_000], 'backoff, not the hint');

    server.clearFault();
    const recovered = base.withSequenceNumber(9n);
    server.setBundle(recovered);
    clock.fire();
    const next = await pending;
    assert.ok(next.done !== true && next.value.equals(recovered));
    assert.equal(watch.lastError, undefined);
    assert.equal(await clock.waitForTimer(4), 120_000, 'back to the refresh interval');
    await watch.close();
  });

  it('never retries later than the refresh interval, however long the backoff', async () => {
    const { watch, clock } = watchWeb(base, {
      defaultRefresh: 90_000,
      backoff: { newBackoff: () => ({ next: () => 10 ** 12, reset: () => undefined }) },
    });
    await watch.waitForBundle();
    server.setFault({ kind: 'status', status: 500 });
    clock.fire();
    assert.equal(await clock.waitForTimer(2), 90_000);
    await watch.close();
  });

  it('retries a first fetch that fails, and keeps no bundle meanwhile', async () => {
    server.setFault({ kind: 'status', status: 404 });
    const clock = new FakeClock();
    const watch = watchBundle(TD, server.url, {
      auth: webAuth(server),
      clock,
      backoff: exponentialBackoff({ initialDelayMs: 500, random: () => 0 }),
    });
    assert.equal(await clock.waitForTimer(1), 500);
    assert.equal(watch.latest, undefined);
    assertFailure(watch.lastError, 'status');
    server.clearFault();
    server.setBundle(base);
    clock.fire();
    assert.ok((await watch.waitForBundle()).equals(base));
    await watch.close();
  });

  it('survives an onError that throws', async () => {
    server.setFault({ kind: 'status', status: 500 });
    const clock = new FakeClock();
    const watch = watchBundle(TD, server.url, {
      auth: webAuth(server),
      clock,
      onError: () => {
        throw new Error('bad observer');
      },
    });
    await clock.waitForTimer(1);
    server.clearFault();
    clock.fire();
    await watch.waitForBundle();
    await watch.close();
  });
});

describe('watchBundle: https_spiffe endpoint key rotation (Federation §5.2.2.4)', () => {
  it('authenticates each fetch with the newest fetched bundle of a self-serving endpoint', async () => {
    const rotating = await TestCA.create({ trustDomain: TD });
    const bootstrap = rotating.x509Bundle(); // root R1 only, configured out of band
    await using endpoint = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: TD,
      ca: rotating,
    });
    const endpointId = endpoint.endpointId!;
    const clock = new FakeClock();
    const errors: Error[] = [];
    await using watch = watchBundle(TD, endpoint.url, {
      auth: { profile: 'https_spiffe', endpointId, bundleSource: bootstrap },
      clock,
      onError: (err) => errors.push(err),
    });
    await watch.waitForBundle(); // fetch 1, authenticated with the bootstrap bundle

    // The endpoint publishes R2 next to R1 (fetch 2), then switches its SVID to R2.
    await rotating.rotateX509Authority();
    const published = SpiffeBundle.fromX509Bundle(rotating.x509Bundle()).withSequenceNumber(2n);
    endpoint.setBundle(published);
    clock.fire();
    await clock.waitForTimer(2);
    assert.ok(watch.latest?.equals(published));
    endpoint.setSvid(await rotating.issueX509Svid(endpointId));

    // Fetch 3 is authenticated with the fetched bundle, which has R2: accepted.
    clock.fire();
    await clock.waitForTimer(3);
    assert.equal(watch.lastError, undefined, String(watch.lastError));
    assert.equal(endpoint.requests.length, 3, 'the third request got through TLS');
    // Control: the bootstrap bundle alone does not authenticate the rotated endpoint.
    await failure(
      fetchBundle(TD, endpoint.url, {
        auth: { profile: 'https_spiffe', endpointId, bundleSource: bootstrap },
      }),
      'tls',
    );

    // A CA that no fetched bundle contains is refused.
    const stranger = await TestCA.create({ trustDomain: TD });
    endpoint.setSvid(await stranger.issueX509Svid(endpointId));
    clock.fire();
    await clock.waitForTimer(4);
    assert.equal(errors.length, 1);
    assertFailure(errors[0], 'tls');
    assert.ok(watch.latest?.equals(published), 'the last good bundle stays');
  });

  it('uses the bundle source, not the fetched bundle, for a non-self-serving endpoint', async () => {
    const host = await TestCA.create({ trustDomain: 'host.test' });
    await using endpoint = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: TD,
      endpointId: 'spiffe://host.test/bundle-endpoint',
      ca: host,
      bundle: base,
    });
    const clock = new FakeClock();
    await using watch = watchBundle(TD, endpoint.url, {
      auth: {
        profile: 'https_spiffe',
        endpointId: endpoint.endpointId!,
        bundleSource: host.x509Bundle(),
      },
      clock,
    });
    await watch.waitForBundle();
    clock.fire(); // the fetched a.test bundle could not authenticate host.test's endpoint
    await clock.waitForTimer(2);
    assert.equal(watch.lastError, undefined, String(watch.lastError));
    assert.equal(endpoint.requests.length, 2);
  });
});

describe('watchBundle: lifecycle', () => {
  it('close() stops fetching, ends iterations and rejects waiters', async () => {
    server.setFault({ kind: 'slow', delayMs: 60_000 });
    const clock = new FakeClock();
    const watch = watchBundle(TD, server.url, { auth: webAuth(server), clock });
    const waiting = watch.waitForBundle();
    const iterating = watch[Symbol.asyncIterator]().next();
    await server.waitForRequest((r) => r.fault === 'slow');
    await watch.close();
    assert.ok((await rejection(waiting)) instanceof ClosedError);
    assert.deepEqual(await iterating, { done: true, value: undefined });
    assert.equal(clock.pending, 0, 'no timer left');
    assert.equal(watch.closed, true);
    assert.equal(watch.lastError, undefined, 'closing is not an error');
    assert.ok((await rejection(watch.waitForBundle())) instanceof ClosedError);
    assert.deepEqual(await watch[Symbol.asyncIterator]().next(), { done: true, value: undefined });
    await watch.close(); // idempotent
  });

  it('close() clears the pending refresh timer', async () => {
    const { watch, clock } = watchWeb(base);
    await clock.waitForTimer(1);
    assert.equal(clock.pending, 1);
    await watch.close();
    assert.equal(clock.pending, 0);
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    const { watch, clock } = watchWeb(base, { signal: controller.signal });
    await clock.waitForTimer(1);
    controller.abort();
    assert.equal(watch.closed, true);
    assert.equal(clock.pending, 0);
    const aborted = watchBundle(TD, server.url, {
      auth: webAuth(server),
      signal: AbortSignal.abort(),
    });
    assert.equal(aborted.closed, true);
  });

  it('waitForBundle honours its own signal', async () => {
    server.setFault({ kind: 'slow', delayMs: 60_000 });
    const clock = new FakeClock();
    await using watch = watchBundle(TD, server.url, { auth: webAuth(server), clock });
    const reason = new Error('enough');
    const controller = new AbortController();
    const waiting = watch.waitForBundle({ signal: controller.signal });
    controller.abort(reason);
    assert.equal(await rejection(waiting), reason);
  });

  it('validates its arguments like fetchBundle', () => {
    assert.throws(
      () => watchBundle(TD, server.url.replace('https:', 'http:'), { auth: webAuth(server) }),
      InvalidArgumentError,
    );
  });
});
