// The agent is killed and started again: while it is gone the sources keep serving the last good
// material (state `reconnecting`), and they recover on their own once it is back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TrustDomain } from 'spiffe-sdk/spiffeid';
import { JwtSource, X509Source, type WorkloadApiEvent } from 'spiffe-sdk/workloadapi';
import { controlAgent, deployment, EventLog, runner } from './helpers.js';

const alpha = TrustDomain.parse(deployment.trustDomains.alpha.name);

const events = new EventLog<WorkloadApiEvent>();
let x509: X509Source;
let jwt: JwtSource;

before(async () => {
  const onEvent = (event: WorkloadApiEvent): void => {
    events.push(event);
  };
  x509 = await X509Source.create({ timeout: 60_000, onEvent });
  jwt = await JwtSource.create({ timeout: 60_000, onEvent });
});
after(async () => {
  // The agent is back even when a test failed half-way, for the tests that follow.
  await controlAgent('alpha', 'start').catch(() => undefined);
  await x509.close();
  await jwt.close();
});

describe('agent restart', () => {
  it('keeps serving the last SVID and bundles while the agent is down, and recovers', async () => {
    const svid = x509.getX509Svid();
    const jwtBundle = jwt.getJwtBundleForTrustDomain(alpha);

    let from = events.length;
    await controlAgent('alpha', 'kill');
    for (const method of ['FetchX509SVID', 'FetchJWTBundles']) {
      await events.waitFor(
        `${method} to fail`,
        (e) => e.type === 'stream-failed' && e.method === method && !e.identityWithdrawn,
        from,
      );
    }
    assert.equal(x509.status().state, 'reconnecting');
    assert.equal(jwt.status().state, 'reconnecting');
    assert.equal(x509.getX509Svid(), svid);
    assert.ok(x509.getX509BundleForTrustDomain(alpha).x509Authorities.length > 0);
    assert.equal(jwt.getJwtBundleForTrustDomain(alpha), jwtBundle);

    from = events.length;
    await controlAgent('alpha', 'start');
    for (const method of ['FetchX509SVID', 'FetchJWTBundles']) {
      await events.waitFor(
        `${method} to deliver again`,
        (e) => e.type === 'update-received' && e.method === method,
        from,
      );
    }
    assert.equal(x509.status().state, 'ready');
    assert.equal(jwt.status().state, 'ready');
    assert.equal(x509.getX509Svid().id.toString(), runner.id);
    const token = await jwt.fetchJwtSvid({ audience: 'spiffe://alpha.test/after-restart' });
    assert.equal(token.id.toString(), runner.id);
  });
});
