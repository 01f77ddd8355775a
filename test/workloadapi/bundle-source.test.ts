import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BundleNotFoundError, ClosedError, SourceTimeoutError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { verifyX509Svid } from '../../src/svid/verify-x509-svid.js';
import type { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import { BundleSource, WorkloadApiClient } from '../../src/workloadapi/index.js';
import {
  countingBackoff,
  EventLog,
  fixture,
  nextUpdate,
  partnerTd,
  startServer,
  td,
  type Fixture,
} from './helpers.js';
import type { WorkloadApiIdentity } from '../../src/testing/workload-api-server.js';

let f: Fixture;
let server: WorkloadApiServer;
let client: WorkloadApiClient;
let log: EventLog;

// A verifier: bundles only, no X509-SVID of its own.
function verifierIdentity(): WorkloadApiIdentity {
  return {
    x509Bundle: f.ca.x509Bundle(),
    federatedX509Bundles: [f.partnerCa.x509Bundle()],
    jwtBundle: f.jwt.jwtBundle(),
    federatedJwtBundles: [f.partnerJwt.jwtBundle()],
  };
}

before(async () => {
  f = await fixture();
  server = await startServer({});
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
  await server.setIdentity(verifierIdentity());
  log = new EventLog();
  client = new WorkloadApiClient({
    address: server.address,
    backoff: countingBackoff(),
    onEvent: log.onEvent,
  });
});

describe('BundleSource', () => {
  it('needs no SVID; serves X.509, JWT and SPIFFE bundles of every trust domain sent', async () => {
    await using s = await BundleSource.create({ client, timeout: 10_000 });
    assert.ok(!server.calls.some((c) => c.method === 'FetchX509SVID'));
    assert.equal(s.getX509BundleSet().size, 2);
    assert.equal(s.getJwtBundleSet().size, 2);
    const own = s.getBundleForTrustDomain(td);
    assert.equal(own.x509Bundle().x509Authorities.length, 1);
    assert.ok(own.jwtBundle().hasAuthority(f.jwt.currentKid));
    assert.ok(s.getJwtBundleForTrustDomain(partnerTd));
    const peer = await f.partnerCa.issueX509Svid('spiffe://partner.org/peer');
    assert.equal(verifyX509Svid(peer.certificates, s).id.toString(), 'spiffe://partner.org/peer');
    assert.equal(s.status().state, 'ready');
  });

  it('a trust domain with only one kind of bundle still has a SPIFFE bundle; none at all is not found', async () => {
    await server.updateIdentity({ federatedJwtBundles: undefined });
    await using s = await BundleSource.create({ client, timeout: 10_000 });
    const partner = s.getBundleForTrustDomain(partnerTd);
    assert.equal(partner.jwtBundle().isEmpty(), true);
    assert.equal(partner.x509Bundle().isEmpty(), false);
    assert.throws(() => s.getJwtBundleForTrustDomain(partnerTd), BundleNotFoundError);
    assert.throws(
      () => s.getBundleForTrustDomain(TrustDomain.parse('other.org')),
      BundleNotFoundError,
    );
  });

  it('a removed trust domain is no longer trusted', async () => {
    await using s = await BundleSource.create({ client, timeout: 10_000 });
    const update = nextUpdate(s, (snap) => !snap.x509.has(partnerTd) && !snap.jwt.has(partnerTd));
    await server.updateIdentity({
      federatedX509Bundles: undefined,
      federatedJwtBundles: undefined,
    });
    await update;
    assert.throws(() => s.getX509BundleForTrustDomain(partnerTd), BundleNotFoundError);
    assert.throws(() => s.getBundleForTrustDomain(partnerTd), BundleNotFoundError);
    assert.ok(s.getBundleForTrustDomain(td));
  });

  it('waits for BOTH streams: a timeout names the one that failed', async () => {
    server.failWith('PermissionDenied', { method: 'FetchJWTBundles' });
    await assert.rejects(BundleSource.create({ client, timeout: 200 }), (err: unknown) => {
      assert.ok(err instanceof SourceTimeoutError);
      assert.match(err.message, /FetchJWTBundles: PermissionDenied/);
      return true;
    });
  });

  it('PermissionDenied on one stream withdraws its bundles only', async () => {
    await using s = await BundleSource.create({ client, timeout: 10_000 });
    server.failWith('PermissionDenied', { method: 'FetchX509Bundles' });
    const withdrawn = nextUpdate(s);
    server.closeStreams({ method: 'FetchX509Bundles', status: 'PermissionDenied' });
    const snap = await withdrawn;
    assert.equal(snap.x509.size, 0);
    assert.equal(snap.jwt.size, 2);
    assert.throws(() => s.getX509BundleForTrustDomain(td), BundleNotFoundError);
    assert.equal(s.status().state, 'no-identity');
    server.clearFaults();
  });

  it('close(): idempotent, then ClosedError', async () => {
    const s = await BundleSource.create({ client, timeout: 10_000 });
    await s.close();
    await s.close();
    assert.throws(() => s.getBundleForTrustDomain(td), ClosedError);
    assert.throws(() => s.getX509BundleSet(), ClosedError);
    assert.equal(s.status().state, 'closed');
  });
});
