import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  BundleNotFoundError,
  ClosedError,
  InvalidArgumentError,
  InvalidWorkloadApiResponseError,
  NoIdentityError,
  SourceTimeoutError,
  WorkloadApiError,
} from '../../src/errors.js';
import type {
  WorkloadApiMalformation,
  WorkloadApiServer,
} from '../../src/testing/workload-api-server.js';
import type { X509MaterialSource } from '../../src/tls/source.js';
import {
  WorkloadApiClient,
  X509Source,
  type X509SourceSnapshot,
} from '../../src/workloadapi/index.js';
import {
  baseIdentity,
  countingBackoff,
  EventLog,
  fixture,
  nextUpdate,
  partnerTd,
  sameSvid,
  startServer,
  td,
  type CountingBackoff,
  type Fixture,
} from './helpers.js';

let f: Fixture;
let server: WorkloadApiServer;
let log: EventLog;
let backoff: CountingBackoff;
let client: WorkloadApiClient;
let source: X509Source | undefined;

before(async () => {
  f = await fixture();
  server = await startServer(baseIdentity(f));
  client = new WorkloadApiClient({ address: server.address });
});
after(async () => {
  await source?.close();
  await client.close();
  await server.close();
});
beforeEach(async () => {
  await source?.close();
  source = undefined;
  await client.close();
  if (!server.running) await server.restart();
  server.clearFaults();
  server.clearCalls();
  await server.setIdentity(baseIdentity(f));
  log = new EventLog();
  backoff = countingBackoff();
  client = new WorkloadApiClient({ address: server.address, backoff, onEvent: log.onEvent });
});

async function create(): Promise<X509Source> {
  source = await X509Source.create({ client, timeout: 10_000 });
  return source;
}

describe('X509Source: creation', () => {
  it('resolves after the first update with the default SVID and all bundles', async () => {
    const s = await create();
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
    assert.ok(s.getX509BundleForTrustDomain(td).hasAuthority(f.ca.x509Authorities[0]!));
    assert.ok(s.getX509BundleForTrustDomain(partnerTd));
    assert.equal(s.getX509BundleSet().size, 2);
    assert.equal(s.status().state, 'ready');
    assert.ok(s.status().lastUpdate instanceof Date);
  });

  it('fails after `timeout` with the last status seen (PermissionDenied while a registration propagates)', async () => {
    server.failWith('PermissionDenied', { method: 'FetchX509SVID', message: 'no identity issued' });
    await assert.rejects(X509Source.create({ client, timeout: 200 }), (err: unknown) => {
      assert.ok(err instanceof SourceTimeoutError, String(err));
      assert.equal(err.code, 'ERR_SPIFFE_SOURCE_TIMEOUT');
      assert.ok(err.lastError instanceof WorkloadApiError);
      assert.equal(err.lastError.grpcStatus, 'PermissionDenied');
      assert.match(
        err.message,
        /within 200 ms; last error: .*PermissionDenied: no identity issued/,
      );
      return true;
    });
    // The watch was stopped: it reported so, and opens no stream any more.
    const opened = log.count((e) => e.type === 'stream-opened');
    assert.equal(log.events.at(-1)?.type, 'watch-stopped');
    await client.fetchX509Bundles();
    assert.equal(
      log.count((e) => e.type === 'stream-opened'),
      opened,
    );
  });

  it('waits through PermissionDenied until the identity is issued (positive control)', async () => {
    server.failWith('PermissionDenied', { method: 'FetchX509SVID', times: 3 });
    const s = await create();
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
    assert.equal(backoff.delays.length, 3);
  });

  it('fails at once on InvalidArgument, with no retry', async () => {
    server.failWith('InvalidArgument', { method: 'FetchX509SVID' });
    await assert.rejects(
      X509Source.create({ client, timeout: 10_000 }),
      (err: unknown) => err instanceof WorkloadApiError && err.grpcStatus === 'InvalidArgument',
    );
    assert.equal(server.calls.length, 1);
    assert.equal(backoff.delays.length, 0);
  });

  it('an aborted signal rejects create()', async () => {
    server.failWith('Unavailable', { method: 'FetchX509SVID' });
    const controller = new AbortController();
    const pending = X509Source.create({ client, signal: controller.signal });
    await server.waitForCall((c) => c.method === 'FetchX509SVID' && c.status !== undefined);
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
  });

  it('recovers when the agent is not there yet', async () => {
    await server.stop();
    const pending = X509Source.create({ client, timeout: 10_000 });
    await log.next((e) => e.type === 'stream-failed');
    assert.equal(server.calls.length, 0);
    await server.restart();
    source = await pending;
    assert.ok(sameSvid(source.getX509Svid(), f.web1));
  });

  it('options: client with address is refused; bad timeout, bad picker', async () => {
    await assert.rejects(
      X509Source.create({ client, address: server.address }),
      InvalidArgumentError,
    );
    await assert.rejects(X509Source.create({ client, timeout: -1 }), InvalidArgumentError);
    await assert.rejects(
      X509Source.create({ client, picker: 'x' as unknown as () => undefined }),
      InvalidArgumentError,
    );
  });
});

describe('X509Source: rotation and updates', () => {
  it('a pushed rotation is visible through getX509Svid() as soon as the update arrives', async () => {
    const s = await create();
    let inListener: boolean | undefined;
    const update = nextUpdate<X509SourceSnapshot>(s, () => {
      inListener = sameSvid(s.getX509Svid(), f.web2);
      return true;
    });
    await server.updateIdentity({ x509Svids: [f.web2] });
    const snapshot = await update;
    assert.equal(inListener, true);
    assert.ok(sameSvid(snapshot.svid, f.web2));
    assert.ok(sameSvid(s.getX509Svid(), f.web2));
    assert.ok(Object.isFrozen(snapshot));
    assert.equal(s.status().updates, 2);
  });

  it('satisfies the TLS layer’s source contract (X509MaterialSource)', async () => {
    const s = await create();
    const material: X509MaterialSource = s; // compile-time check
    assert.equal(material.getX509Svid(), s.getX509Svid());
    assert.equal(material.getX509BundleSet(), s.getX509BundleSet());
    let calls = 0;
    const off = material.onUpdate?.(() => calls++);
    const update = nextUpdate(s);
    await server.updateIdentity({ x509Svids: [f.web2] });
    await update;
    off?.();
    assert.equal(calls, 1);
  });

  it('no event when an update changes nothing', async () => {
    const s = await create();
    let events = 0;
    s.onUpdate(() => events++);
    await server.pushUpdate({ method: 'FetchX509SVID' }); // same material
    await log.next((e) => e.type === 'update-received');
    assert.equal(events, 0);
    await server.updateIdentity({ x509Svids: [f.web2] });
    await nextUpdate(s);
    assert.equal(events, 1);
  });

  it('the async iterator yields changes and ends on close', async () => {
    const s = await create();
    const seen: (string | undefined)[] = [];
    const done = (async () => {
      for await (const snap of s.updates()) {
        seen.push(snap.svid?.certificates[0]?.fingerprint256);
        if (seen.length === 1) await s.close();
      }
    })();
    await server.updateIdentity({ x509Svids: [f.web2] });
    await done;
    assert.deepEqual(seen, [f.web2.certificates[0]!.fingerprint256]);
  });

  it('an agent restart on the same socket is recovered from', async () => {
    const s = await create();
    await server.stop();
    await log.next((e) => e.type === 'stream-failed');
    assert.equal(s.status().state, 'reconnecting');
    assert.ok(sameSvid(s.getX509Svid(), f.web1), 'the last material stays in use');
    await server.setIdentity({ ...baseIdentity(f), x509Svids: [f.web2] });
    const update = nextUpdate(s);
    await server.restart();
    await update;
    assert.ok(sameSvid(s.getX509Svid(), f.web2));
    assert.equal(s.status().state, 'ready');
  });

  it('a stream ended by the agent is reopened', async () => {
    const s = await create();
    assert.equal(server.closeStreams({ method: 'FetchX509SVID' }), 1);
    await server.waitForCall(
      (c) => c.method === 'FetchX509SVID' && c.status === undefined && c.id > 1,
    );
    const update = nextUpdate(s);
    await server.updateIdentity({ x509Svids: [f.web2] });
    await update;
    assert.ok(sameSvid(s.getX509Svid(), f.web2));
  });

  it('a removed federated trust domain stops being trusted', async () => {
    const s = await create();
    assert.ok(s.getX509BundleForTrustDomain(partnerTd));
    const update = nextUpdate(s);
    await server.updateIdentity({ federatedX509Bundles: undefined });
    const snapshot = await update;
    assert.throws(() => s.getX509BundleForTrustDomain(partnerTd), BundleNotFoundError);
    assert.equal(snapshot.bundles.has(partnerTd), false);
    assert.ok(s.getX509BundleForTrustDomain(td), 'the own trust domain stays');
  });

  it('a CA rotation in the bundle is an update', async () => {
    const s = await create();
    await f.ca.rotateX509Authority();
    const update = nextUpdate(s);
    await server.updateIdentity({ x509Bundle: f.ca.x509Bundle() });
    await update;
    assert.equal(s.getX509BundleForTrustDomain(td).x509Authorities.length, 2);
    f.ca.retireOldX509Authorities();
  });

  it('the picker chooses the SVID; a picker choosing none gives NoIdentityError("not-picked")', async () => {
    await server.updateIdentity({ x509Svids: [f.web1.withHint('a'), f.db.withHint('b')] });
    const byHint = await X509Source.create({
      client,
      picker: (svids) => svids.find((x) => x.hint === 'b'),
    });
    assert.ok(sameSvid(byHint.getX509Svid(), f.db));
    const none = await X509Source.create({ client, picker: () => undefined });
    assert.throws(
      () => none.getX509Svid(),
      (err: unknown) => err instanceof NoIdentityError && err.reason === 'not-picked',
    );
    assert.ok(none.getX509BundleSet().size > 0, 'bundles are still available');
    await byHint.close();
    await none.close();
  });

  it('a throwing listener is reported and does not stop other listeners', async () => {
    const s = await create();
    s.onUpdate(() => {
      throw new Error('listener bug');
    });
    const ok = nextUpdate(s);
    await server.updateIdentity({ x509Svids: [f.web2] });
    await ok;
    assert.equal(
      log.count((e) => e.type === 'listener-failed'),
      1,
    );
  });
});

describe('X509Source: malformed responses are ignored (Workload API §4.5)', () => {
  const variants: readonly WorkloadApiMalformation[] = [
    'empty-svids',
    'empty-spiffe-id',
    'empty-x509-svid',
    'empty-key',
    'empty-bundle',
    'bad-der',
    'bad-bundle-key',
  ];
  for (const kind of variants) {
    it(`${kind}: the last good SVID stays; the next good update is taken (control)`, async () => {
      const s = await create();
      server.malformResponses(kind, { method: 'FetchX509SVID', times: 1 });
      const rejected = log.next((e) => e.type === 'response-rejected');
      await server.updateIdentity({ x509Svids: [f.web2] });
      await rejected;
      assert.ok(sameSvid(s.getX509Svid(), f.web1), 'the rejected update was not applied');
      assert.ok(s.status().lastError instanceof InvalidWorkloadApiResponseError);
      assert.equal(s.status().state, 'ready');
      const update = nextUpdate(s);
      await server.pushUpdate({ method: 'FetchX509SVID' });
      await update;
      assert.ok(sameSvid(s.getX509Svid(), f.web2));
    });
  }

  it('a spiffe_id that does not match the certificate is rejected too', async () => {
    const s = await create();
    server.rewriteResponses(
      'FetchX509SVID',
      (r) => {
        for (const svid of r.svids) svid.spiffeId = 'spiffe://example.org/admin';
        return r;
      },
      { times: 1 },
    );
    const rejected = log.next((e) => e.type === 'response-rejected');
    await server.updateIdentity({ x509Svids: [f.web2] });
    await rejected;
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
  });

  it('rejected responses do not reset the backoff; good ones do', async () => {
    await create();
    const resetsAfterFirst = backoff.resets;
    assert.equal(resetsAfterFirst, 1);
    server.malformResponses('empty-svids', { method: 'FetchX509SVID', times: 3 });
    let rejections = 0;
    // Each rejected response is followed by the agent closing the stream: the watch must wait a
    // backoff delay before every reconnection, never starting over at once.
    const done = (async () => {
      while (rejections < 3) {
        await log.next((e) => e.type === 'response-rejected');
        rejections++;
        server.closeStreams({ method: 'FetchX509SVID' });
      }
    })();
    await server.pushUpdate({ method: 'FetchX509SVID' });
    await done;
    await log.next((e) => e.type === 'update-received');
    assert.equal(rejections, 3);
    assert.equal(backoff.delays.length, 3, 'each reconnection waited a backoff delay');
    assert.equal(backoff.resets, resetsAfterFirst + 1, 'only the good response reset the backoff');
  });
});

describe('X509Source: identity withdrawal (Workload API §5.2.1)', () => {
  it('PermissionDenied withdraws the SVID and the bundles until the identity is issued again', async () => {
    const s = await create();
    server.failWith('PermissionDenied', {
      method: 'FetchX509SVID',
      message: 'registration deleted',
    });
    const withdrawn = nextUpdate(s);
    server.closeStreams({
      method: 'FetchX509SVID',
      status: 'PermissionDenied',
      message: 'registration deleted',
    });
    const snapshot = await withdrawn;
    assert.equal(snapshot.svid, undefined);
    assert.equal(snapshot.noIdentity, 'withdrawn');
    assert.equal(snapshot.bundles.size, 0);
    assert.throws(
      () => s.getX509Svid(),
      (err: unknown) => {
        assert.ok(err instanceof NoIdentityError);
        assert.equal(err.reason, 'withdrawn');
        assert.ok(err.lastError instanceof WorkloadApiError);
        assert.equal(err.lastError.grpcStatus, 'PermissionDenied');
        return true;
      },
    );
    assert.throws(() => s.getX509BundleForTrustDomain(td), BundleNotFoundError);
    assert.equal(s.status().state, 'no-identity');
    // Retried with backoff; when the agent issues an identity again, it comes back.
    const restored = nextUpdate(s);
    server.clearFaults();
    await restored;
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
    assert.equal(s.status().state, 'ready');
  });

  it('Unavailable keeps the last material (control)', async () => {
    const s = await create();
    server.failWith('Unavailable', { method: 'FetchX509SVID' });
    server.closeStreams({ method: 'FetchX509SVID', status: 'Unavailable' });
    await log.next((e) => e.type === 'stream-failed' && e.error.grpcStatus === 'Unavailable');
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
    assert.ok(s.getX509BundleForTrustDomain(td));
    assert.equal(s.status().state, 'reconnecting');
    server.clearFaults();
  });

  it('InvalidArgument after creation stops the watch: state "failed", material kept', async () => {
    const s = await create();
    server.failWith('InvalidArgument', { method: 'FetchX509SVID' });
    const stopped = log.next((e) => e.type === 'watch-stopped');
    server.closeStreams({ method: 'FetchX509SVID', status: 'Unavailable' });
    await stopped;
    assert.equal(s.status().state, 'failed');
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
  });
});

describe('X509Source: backoff is bounded', () => {
  it('every reconnection waits a backoff delay: calls never outnumber delays + 1', async () => {
    server.failWith('Unavailable', { method: 'FetchX509SVID' });
    const pending = X509Source.create({ client, timeout: 10_000 });
    await server.waitForCall(() => server.calls.length >= 20);
    assert.ok(
      server.calls.length <= backoff.delays.length + 1,
      `${server.calls.length} calls, ${backoff.delays.length} delays`,
    );
    server.clearFaults();
    source = await pending;
    assert.equal(server.calls.length, backoff.delays.length + 1);
  });
});

describe('X509Source: close and shared sources', () => {
  it('close() is idempotent; getters then throw ClosedError; status is "closed"', async () => {
    const s = await create();
    await s.close();
    await s.close();
    assert.throws(() => s.getX509Svid(), ClosedError);
    assert.throws(() => s.getX509BundleForTrustDomain(td), ClosedError);
    assert.throws(() => s.getX509BundleSet(), ClosedError);
    assert.equal(s.status().state, 'closed');
    const call = await server.waitForCall(
      (c) => c.method === 'FetchX509SVID' && c.status !== undefined,
    );
    assert.equal(call.status, 'Cancelled');
    assert.equal(client.closed, false, 'a given client is not closed by the source');
  });

  it('a source that made its own client closes it', async () => {
    const s = await X509Source.create({ address: server.address, timeout: 10_000 });
    assert.ok(sameSvid(s.getX509Svid(), f.web1));
    await s.close();
    await server.waitForCall((c) => c.method === 'FetchX509SVID' && c.status === 'Cancelled');
  });

  it('shared(): one stream for many handles, closed with the last handle', async () => {
    const a = await X509Source.shared({ address: server.address, timeout: 10_000 });
    const b = await X509Source.shared({ address: server.address, timeout: 10_000 });
    const fetches = (): number => server.calls.filter((c) => c.method === 'FetchX509SVID').length;
    assert.equal(fetches(), 1);
    assert.ok(sameSvid(a.getX509Svid(), f.web1) && sameSvid(b.getX509Svid(), f.web1));
    const ua = nextUpdate(a);
    const ub = nextUpdate(b);
    await server.updateIdentity({ x509Svids: [f.web2] });
    await Promise.all([ua, ub]);
    assert.ok(sameSvid(b.getX509Svid(), f.web2));
    await a.close();
    assert.throws(() => a.getX509Svid(), ClosedError);
    assert.ok(sameSvid(b.getX509Svid(), f.web2), 'the other handle keeps working');
    assert.equal(server.calls.find((c) => c.method === 'FetchX509SVID')?.status, undefined);
    await b.close();
    await server.waitForCall((c) => c.method === 'FetchX509SVID' && c.status === 'Cancelled');
    const c = await X509Source.shared({ address: server.address, timeout: 10_000 });
    assert.equal(fetches(), 2, 'a new shared source after the last close opens a new stream');
    await c.close();
  });

  it('shared() refuses a client', async () => {
    await assert.rejects(
      X509Source.shared({ client } as unknown as Parameters<typeof X509Source.shared>[0]),
      InvalidArgumentError,
    );
  });
});
