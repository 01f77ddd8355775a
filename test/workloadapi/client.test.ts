import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ClosedError,
  InvalidArgumentError,
  InvalidWorkloadApiResponseError,
  WorkloadApiError,
} from '../../src/errors.js';
import { SpiffeId } from '../../src/spiffeid/index.js';
import type { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import { WorkloadApiClient } from '../../src/workloadapi/index.js';
import {
  baseIdentity,
  countingBackoff,
  EventLog,
  fixture,
  partnerTd,
  sameSvid,
  startServer,
  td,
  type Fixture,
} from './helpers.js';

let f: Fixture;
let server: WorkloadApiServer;
let client: WorkloadApiClient;
let log: EventLog;

before(async () => {
  f = await fixture();
  server = await startServer(baseIdentity(f));
  client = new WorkloadApiClient({ address: server.address });
});
after(async () => {
  await client.close();
  await server.close();
});
beforeEach(async () => {
  await client.close();
  server.clearFaults();
  server.clearCalls();
  await server.setIdentity(baseIdentity(f));
  log = new EventLog();
  client = new WorkloadApiClient({
    address: server.address,
    backoff: countingBackoff(),
    onEvent: log.onEvent,
  });
});

describe('WorkloadApiClient one-shot calls', () => {
  it('every call carries workload.spiffe.io: true', async () => {
    await client.fetchX509Svid();
    await client.fetchX509Bundles();
    await client.fetchJwtBundles();
    const jwt = await client.fetchJwtSvid({ audience: 'a' });
    await client.validateJwtSvid(jwt.marshal(), 'a');
    const calls = server.calls;
    assert.equal(calls.length, 5);
    for (const call of calls)
      assert.deepEqual(call.metadata['workload.spiffe.io'], ['true'], call.method);
  });

  it('fetchX509Svid returns the first (default) SVID; fetchX509Svids all of them', async () => {
    await server.updateIdentity({ x509Svids: [f.db, f.web1] });
    assert.ok(sameSvid(await client.fetchX509Svid(), f.db));
    const all = await client.fetchX509Svids();
    assert.deepEqual(
      all.map((s) => s.id.path),
      ['/db', '/web'],
    );
  });

  it('hints are exposed; of SVIDs sharing a non-empty hint the first wins', async () => {
    await server.updateIdentity({
      x509Svids: [
        f.web1.withHint('internal'),
        f.db.withHint('internal'),
        f.web2.withHint('external'),
      ],
    });
    const context = await client.fetchX509Context();
    assert.deepEqual(
      context.svids.map((s) => [s.id.path, s.hint]),
      [
        ['/web', 'internal'],
        ['/web', 'external'],
      ],
    );
    assert.ok(sameSvid(context.svidByHint('external'), f.web2));
  });

  it('fetchX509Context holds the own and the federated bundles', async () => {
    const context = await client.fetchX509Context();
    assert.deepEqual(
      context.bundles.bundles().map((b) => b.trustDomain.name),
      ['example.org', 'partner.org'],
    );
    assert.ok(
      context.getX509BundleForTrustDomain(partnerTd).hasAuthority(f.partnerCa.x509Authorities[0]!),
    );
  });

  it('fetchX509Bundles and fetchJwtBundles', async () => {
    const x509 = await client.fetchX509Bundles();
    assert.ok(x509.get(td)?.hasAuthority(f.ca.x509Authorities[0]!));
    assert.ok(x509.has(partnerTd));
    const jwt = await client.fetchJwtBundles();
    assert.ok(jwt.get(td)?.hasAuthority(f.jwt.currentKid));
    assert.ok(jwt.has(partnerTd));
  });

  it('fetchJwtSvid sends audience + extraAudiences and the subject', async () => {
    const svid = await client.fetchJwtSvid({
      audience: 'spiffe://example.org/api',
      extraAudiences: ['other'],
      subject: SpiffeId.parse('spiffe://example.org/web'),
    });
    assert.equal(svid.id.toString(), 'spiffe://example.org/web');
    assert.deepEqual([...svid.audience].sort(), ['other', 'spiffe://example.org/api']);
    const call = server.calls.at(-1);
    assert.ok(call?.method === 'FetchJWTSVID');
    assert.deepEqual(call.request.audience, ['spiffe://example.org/api', 'other']);
    assert.equal(call.request.spiffeId, 'spiffe://example.org/web');
  });

  it('fetchJwtSvids returns one token per identity', async () => {
    await server.updateIdentity({ x509Svids: [f.web1, f.db] });
    const svids = await client.fetchJwtSvids({ audience: 'a' });
    assert.deepEqual(
      svids.map((s) => s.id.path),
      ['/web', '/db'],
    );
  });

  it('an empty audience is a programming error: no call is made', async () => {
    await assert.rejects(client.fetchJwtSvid({ audience: '' }), InvalidArgumentError);
    await assert.rejects(
      client.fetchJwtSvid({ audience: 'a', extraAudiences: [''] }),
      InvalidArgumentError,
    );
    await assert.rejects(client.validateJwtSvid('x', ''), InvalidArgumentError);
    await assert.rejects(client.validateJwtSvid('', 'a'), InvalidArgumentError);
    assert.equal(server.calls.length, 0);
  });

  it('validateJwtSvid: accepted by the agent and parsed locally; refused with InvalidArgument (wrong audience)', async () => {
    const token = await f.jwt.mint({ subject: 'spiffe://example.org/db', audience: ['api'] });
    const svid = await client.validateJwtSvid(token, 'api');
    assert.equal(svid.id.toString(), 'spiffe://example.org/db');
    const forged = await f.jwt.mint({ subject: 'spiffe://example.org/db', audience: ['other'] });
    await assert.rejects(client.validateJwtSvid(forged, 'api'), (err: unknown) => {
      assert.ok(err instanceof WorkloadApiError);
      assert.equal(err.grpcStatus, 'InvalidArgument');
      assert.equal(err.method, 'ValidateJWTSVID');
      assert.ok(!err.message.includes(forged));
      return true;
    });
  });

  it('a gRPC status becomes a WorkloadApiError with its code and name', async () => {
    server.failWith('PermissionDenied', { message: 'no identity issued' });
    await assert.rejects(client.fetchX509Svid(), (err: unknown) => {
      assert.ok(err instanceof WorkloadApiError);
      assert.equal(err.code, 'ERR_SPIFFE_WORKLOAD_API');
      assert.equal(err.grpcCode, 7);
      assert.equal(err.grpcStatus, 'PermissionDenied');
      assert.equal(err.details, 'no identity issued');
      assert.match(err.message, /FetchX509SVID: PermissionDenied: no identity issued/);
      return true;
    });
    await assert.rejects(client.fetchJwtSvid({ audience: 'a' }), WorkloadApiError);
    assert.equal(
      log.count((e) => e.type === 'call-failed'),
      2,
    );
  });

  it('a malformed response rejects a one-shot fetch with InvalidWorkloadApiResponseError', async () => {
    server.malformResponses('empty-svids', { method: 'FetchX509SVID', times: 1 });
    await assert.rejects(client.fetchX509Svid(), InvalidWorkloadApiResponseError);
    assert.ok(await client.fetchX509Svid()); // the next, good, response is accepted
    server.malformResponses('bad-token', { method: 'FetchJWTSVID', times: 1 });
    await assert.rejects(client.fetchJwtSvid({ audience: 'a' }), InvalidWorkloadApiResponseError);
    server.malformResponses('empty-spiffe-id', { method: 'ValidateJWTSVID', times: 1 });
    const token = await f.jwt.mint({ subject: 'spiffe://example.org/db', audience: ['api'] });
    await assert.rejects(client.validateJwtSvid(token, 'api'), InvalidWorkloadApiResponseError);
  });

  it('an AbortSignal cancels a call', async () => {
    let release!: () => void;
    server.delayResponses(new Promise<void>((r) => (release = r)), { method: 'FetchJWTSVID' });
    const controller = new AbortController();
    const pending = client.fetchJwtSvid({ audience: 'a' }, { signal: controller.signal });
    await server.waitForCall((c) => c.method === 'FetchJWTSVID');
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    await server.waitForCall((c) => c.method === 'FetchJWTSVID' && c.status === 'Cancelled');
    release();
    await assert.rejects(client.fetchX509Svid({ signal: AbortSignal.abort() }), {
      name: 'AbortError',
    });
  });

  it('close() rejects pending calls with ClosedError, later calls too; it is idempotent', async () => {
    let release!: () => void;
    server.delayResponses(new Promise<void>((r) => (release = r)), { method: 'FetchX509SVID' });
    const pending = client.fetchX509Svid();
    await server.waitForCall((c) => c.method === 'FetchX509SVID');
    const closing = client.close();
    await assert.rejects(pending, ClosedError);
    await closing;
    await client.close();
    assert.equal(client.closed, true);
    await assert.rejects(client.fetchX509Svid(), ClosedError);
    await assert.rejects(client.fetchJwtSvid({ audience: 'a' }), ClosedError);
    release();
  });

  it('an agent that is not there gives Unavailable (no hang)', async () => {
    const nowhere = new WorkloadApiClient({ address: 'unix:///nonexistent/agent.sock' });
    await assert.rejects(nowhere.fetchX509Svid(), (err: unknown) => {
      return err instanceof WorkloadApiError && err.grpcStatus === 'Unavailable';
    });
    await nowhere.close();
  });

  it('works over TCP too', async () => {
    const { WorkloadApiServer } = await import('../../src/testing/workload-api-server.js');
    await using tcp = await WorkloadApiServer.create({
      transport: 'tcp',
      identity: baseIdentity(f),
    });
    await using tcpClient = new WorkloadApiClient({ address: tcp.address });
    assert.match(tcp.address, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(sameSvid(await tcpClient.fetchX509Svid(), f.web1));
  });
});

describe('WorkloadApiClient watches (async iterables)', () => {
  it('yields the current context, then each rotation; break cancels the stream', async () => {
    const seen: string[] = [];
    for await (const context of client.watchX509Context()) {
      seen.push(context.defaultSvid.certificates[0]!.fingerprint256);
      if (seen.length === 1) await server.updateIdentity({ x509Svids: [f.web2] });
      else break;
    }
    assert.deepEqual(seen, [
      f.web1.certificates[0]!.fingerprint256,
      f.web2.certificates[0]!.fingerprint256,
    ]);
    const call = await server.waitForCall(
      (c) => c.method === 'FetchX509SVID' && c.status !== undefined,
    );
    assert.equal(call.status, 'Cancelled');
  });

  it('a signal ends the iteration normally', async () => {
    const controller = new AbortController();
    let n = 0;
    for await (const bundles of client.watchX509Bundles({ signal: controller.signal })) {
      assert.ok(bundles.has(td));
      n++;
      controller.abort();
    }
    assert.equal(n, 1);
  });

  it('a removed trust domain is no longer in the next update', async () => {
    const iterator = client.watchJwtBundles()[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.ok(first.done !== true && first.value.has(partnerTd));
    await server.updateIdentity({ federatedJwtBundles: undefined });
    const second = await iterator.next();
    assert.ok(second.done !== true && !second.value.has(partnerTd) && second.value.has(td));
    await iterator.return?.();
  });

  it('malformed responses are skipped (reported to onError); the watch goes on', async () => {
    const errors: Error[] = [];
    const watch = client.watchX509Context({ onError: (e) => errors.push(e) });
    const iterator = watch[Symbol.asyncIterator]();
    await iterator.next();
    server.malformResponses('empty-key', { method: 'FetchX509SVID', times: 1 });
    await server.updateIdentity({ x509Svids: [f.db] });
    await server.updateIdentity({ x509Svids: [f.web2] });
    const next = await iterator.next();
    assert.ok(next.done !== true && sameSvid(next.value.defaultSvid, f.web2));
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof InvalidWorkloadApiResponseError);
    await iterator.return?.();
  });

  it('InvalidArgument ends the watch with that error, without retrying', async () => {
    server.failWith('InvalidArgument', { method: 'FetchX509SVID' });
    const backoff = countingBackoff();
    await using c = new WorkloadApiClient({ address: server.address, backoff });
    await assert.rejects(
      async () => {
        for await (const context of c.watchX509Context())
          assert.fail(`unexpected ${context.defaultSvid.id.toString()}`);
      },
      (err: unknown) => err instanceof WorkloadApiError && err.grpcStatus === 'InvalidArgument',
    );
    assert.equal(server.calls.filter((c) => c.method === 'FetchX509SVID').length, 1);
    assert.equal(backoff.delays.length, 0);
  });

  it('Unimplemented ends the watch too (Workload Endpoint Appendix A: do not retry)', async () => {
    server.failWith('Unimplemented', { method: 'FetchJWTBundles' });
    const backoff = countingBackoff();
    await using c = new WorkloadApiClient({ address: server.address, backoff });
    await assert.rejects(
      async () => {
        for await (const bundles of c.watchJwtBundles()) assert.fail(`unexpected ${bundles.size}`);
      },
      (err: unknown) => err instanceof WorkloadApiError && err.grpcStatus === 'Unimplemented',
    );
    assert.equal(server.calls.length, 1);
    assert.equal(backoff.delays.length, 0);
  });

  it('Unavailable and PermissionDenied are retried with backoff (positive control)', async () => {
    server.failWith('Unavailable', { method: 'FetchX509SVID', times: 2 });
    server.failWith('PermissionDenied', { method: 'FetchX509SVID', times: 1 });
    const backoff = countingBackoff();
    const errors: string[] = [];
    await using c = new WorkloadApiClient({ address: server.address, backoff });
    for await (const context of c.watchX509Context({ onError: (e) => errors.push(e.message) })) {
      assert.ok(sameSvid(context.defaultSvid, f.web1));
      break;
    }
    assert.equal(server.calls.filter((c) => c.method === 'FetchX509SVID').length, 4);
    assert.equal(backoff.delays.length, 3);
    assert.equal(errors.length, 3);
  });

  it('close() ends every watch', async () => {
    let first!: () => void;
    const received = new Promise<void>((r) => (first = r));
    const done = (async () => {
      let n = 0;
      for await (const context of client.watchX509Context()) {
        assert.ok(context.defaultSvid);
        n++;
        first();
      }
      return n;
    })();
    await received;
    await client.close();
    assert.equal(await done, 1);
  });
});
