import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  BundleNotFoundError,
  ClosedError,
  InvalidArgumentError,
  WorkloadApiError,
} from '../../src/errors.js';
import { SpiffeId } from '../../src/spiffeid/index.js';
import { parseAndValidateJwtSvid } from '../../src/svid/parse-jwt-svid.js';
import type { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import { JwtSource, WorkloadApiClient } from '../../src/workloadapi/index.js';
import {
  baseIdentity,
  countingBackoff,
  EventLog,
  fixture,
  nextUpdate,
  partnerTd,
  startServer,
  td,
  type Fixture,
} from './helpers.js';

let f: Fixture;
let server: WorkloadApiServer;
let client: WorkloadApiClient;
let log: EventLog;
let source: JwtSource | undefined;
let clock: number;

const fetches = (): number => server.calls.filter((c) => c.method === 'FetchJWTSVID').length;

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
  server.clearFaults();
  server.clearCalls();
  await server.setIdentity({ ...baseIdentity(f), x509Svids: [f.web1, f.db] });
  log = new EventLog();
  client = new WorkloadApiClient({
    address: server.address,
    backoff: countingBackoff(),
    onEvent: log.onEvent,
  });
  clock = Date.now();
});

async function create(options: { maxCachedTokens?: number } = {}): Promise<JwtSource> {
  source = await JwtSource.create({
    client,
    timeout: 10_000,
    now: () => new Date(clock),
    ...options,
  });
  return source;
}

describe('JwtSource: the JWT-SVID cache', () => {
  it('serves the same token again without a call', async () => {
    const s = await create();
    const a = await s.fetchJwtSvid({ audience: 'api' });
    const b = await s.fetchJwtSvid({ audience: 'api' });
    assert.equal(a, b);
    assert.equal(fetches(), 1);
    assert.equal(a.id.toString(), 'spiffe://example.org/web');
  });

  it('the key is the subject and the SORTED set of audiences', async () => {
    const s = await create();
    const a = await s.fetchJwtSvid({ audience: 'x', extraAudiences: ['y'] });
    const b = await s.fetchJwtSvid({ audience: 'y', extraAudiences: ['x'] });
    assert.equal(a, b);
    assert.equal(fetches(), 1);
    const c = await s.fetchJwtSvid({ audience: 'x' });
    assert.notEqual(c, a);
    const d = await s.fetchJwtSvid({
      audience: 'x',
      subject: SpiffeId.parse('spiffe://example.org/db'),
    });
    assert.equal(d.id.toString(), 'spiffe://example.org/db');
    assert.equal(fetches(), 3);
  });

  it('refreshes at half of the token lifetime', async () => {
    const s = await create();
    const a = await s.fetchJwtSvid({ audience: 'api' });
    const iatMs = (a.claims['iat'] as number) * 1000;
    const half = (a.expiry.getTime() - iatMs) / 2;
    clock = iatMs + half - 1;
    assert.equal(await s.fetchJwtSvid({ audience: 'api' }), a);
    assert.equal(fetches(), 1);
    clock = iatMs + half;
    const b = await s.fetchJwtSvid({ audience: 'api' });
    assert.notEqual(b, a);
    assert.equal(fetches(), 2);
  });

  it('concurrent requests for one key share one call; an aborted waiter does not cancel it', async () => {
    const s = await create();
    let release!: () => void;
    server.delayResponses(new Promise<void>((r) => (release = r)), {
      method: 'FetchJWTSVID',
      times: 1,
    });
    const controller = new AbortController();
    const aborted = s.fetchJwtSvid({ audience: 'api' }, { signal: controller.signal });
    const others = Array.from({ length: 5 }, () => s.fetchJwtSvid({ audience: 'api' }));
    await server.waitForCall((c) => c.method === 'FetchJWTSVID');
    controller.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    release();
    const tokens = await Promise.all(others);
    assert.ok(tokens.every((t) => t === tokens[0]));
    assert.equal(fetches(), 1);
    assert.equal(server.calls.find((c) => c.method === 'FetchJWTSVID')?.status, 'OK');
  });

  it('a failed refresh returns the still-valid token, except after PermissionDenied', async () => {
    const s = await create();
    const a = await s.fetchJwtSvid({ audience: 'api' });
    clock = a.expiry.getTime() - 1000; // due for refresh, still valid
    server.failWith('Unavailable', { method: 'FetchJWTSVID', times: 1 });
    assert.equal(await s.fetchJwtSvid({ audience: 'api' }), a);
    server.failWith('PermissionDenied', { method: 'FetchJWTSVID', times: 1 });
    await assert.rejects(
      s.fetchJwtSvid({ audience: 'api' }),
      (err: unknown) => err instanceof WorkloadApiError && err.grpcStatus === 'PermissionDenied',
    );
    // The entry is gone: the next call fetches a new token.
    const b = await s.fetchJwtSvid({ audience: 'api' });
    assert.notEqual(b, a);
  });

  it('an expired token is never served from the cache', async () => {
    const s = await create();
    const a = await s.fetchJwtSvid({ audience: 'api' });
    clock = a.expiry.getTime();
    server.failWith('Unavailable', { method: 'FetchJWTSVID', times: 1 });
    await assert.rejects(s.fetchJwtSvid({ audience: 'api' }), WorkloadApiError);
  });

  it('maxCachedTokens bounds the cache (0 disables it)', async () => {
    const one = await create({ maxCachedTokens: 1 });
    await one.fetchJwtSvid({ audience: 'a' });
    await one.fetchJwtSvid({ audience: 'b' });
    await one.fetchJwtSvid({ audience: 'b' });
    assert.equal(fetches(), 2);
    await one.fetchJwtSvid({ audience: 'a' }); // evicted by b
    assert.equal(fetches(), 3);
    await one.close();
    const none = await create({ maxCachedTokens: 0 });
    await none.fetchJwtSvid({ audience: 'a' });
    await none.fetchJwtSvid({ audience: 'a' });
    assert.equal(fetches(), 5);
    await assert.rejects(JwtSource.create({ client, maxCachedTokens: -1 }), InvalidArgumentError);
  });

  it('fetchJwtSvids is a pass-through; bad parameters are refused without a call', async () => {
    const s = await create();
    assert.equal((await s.fetchJwtSvids({ audience: 'a' })).length, 2);
    assert.equal((await s.fetchJwtSvids({ audience: 'a' })).length, 2);
    assert.equal(fetches(), 2);
    await assert.rejects(s.fetchJwtSvid({ audience: '' }), InvalidArgumentError);
    assert.equal(fetches(), 2);
  });
});

describe('JwtSource: the JWT bundles', () => {
  it('validates tokens of the own and federated trust domains', async () => {
    const s = await create();
    assert.ok(s.getJwtBundleForTrustDomain(td).hasAuthority(f.jwt.currentKid));
    assert.ok(s.getJwtBundleForTrustDomain(partnerTd));
    const token = await f.partnerJwt.mint({ subject: 'spiffe://partner.org/x', audience: ['api'] });
    assert.equal(
      (await parseAndValidateJwtSvid(token, s, 'api')).id.toString(),
      'spiffe://partner.org/x',
    );
  });

  it('a removed trust domain stops being trusted', async () => {
    const s = await create();
    const update = nextUpdate(s);
    await server.updateIdentity({ federatedJwtBundles: undefined });
    await update;
    assert.throws(() => s.getJwtBundleForTrustDomain(partnerTd), BundleNotFoundError);
    assert.ok(s.getJwtBundleForTrustDomain(td));
  });

  it('PermissionDenied withdraws the bundles and empties the token cache', async () => {
    const s = await create();
    const a = await s.fetchJwtSvid({ audience: 'api' });
    server.failWith('PermissionDenied', { method: 'FetchJWTBundles' });
    const withdrawn = nextUpdate(s);
    server.closeStreams({ method: 'FetchJWTBundles', status: 'PermissionDenied' });
    const snapshot = await withdrawn;
    assert.equal(snapshot.bundles.size, 0);
    assert.throws(() => s.getJwtBundleForTrustDomain(td), BundleNotFoundError);
    assert.equal(s.status().state, 'no-identity');
    const b = await s.fetchJwtSvid({ audience: 'api' });
    assert.notEqual(b, a, 'the cached token was dropped');
    const restored = nextUpdate(s);
    server.clearFaults();
    await restored;
    assert.ok(s.getJwtBundleForTrustDomain(td));
  });

  it('close(): idempotent, then ClosedError', async () => {
    const s = await create();
    await s.close();
    await s.close();
    assert.throws(() => s.getJwtBundleForTrustDomain(td), ClosedError);
    await assert.rejects(s.fetchJwtSvid({ audience: 'a' }), ClosedError);
    await assert.rejects(s.fetchJwtSvids({ audience: 'a' }), ClosedError);
    assert.equal(s.status().state, 'closed');
  });
});
