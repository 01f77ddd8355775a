// X509Source and the Workload API client against a real SPIRE agent: the test process is the
// "runner" workload (uid 0), registered in alpha.test and federated with beta.test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrustDomain } from 'spiffe-sdk/spiffeid';
import { verifyX509Svid } from 'spiffe-sdk/svid';
import { WorkloadApiClient, X509Source } from 'spiffe-sdk/workloadapi';
import { deployment, runner } from './helpers.js';

const alpha = TrustDomain.parse(deployment.trustDomains.alpha.name);
const beta = TrustDomain.parse(deployment.trustDomains.beta.name);

describe('X509Source on a SPIRE agent', () => {
  it('receives the X509-SVID of its registration entry, which verifies against the agent bundle', async () => {
    await using source = await X509Source.create({ timeout: 60_000 });
    const svid = source.getX509Svid();
    assert.equal(svid.id.toString(), runner.id);
    assert.ok(svid.expiresAt.getTime() > Date.now());
    const verified = verifyX509Svid(svid.certificates, source.getX509BundleSet());
    assert.equal(verified.id.toString(), runner.id);
    assert.equal(source.status().state, 'ready');
  });

  it('trusts its own trust domain and the federated one, and nothing else', async () => {
    await using source = await X509Source.create({ timeout: 60_000 });
    const names = source
      .getX509BundleSet()
      .bundles()
      .map((b) => b.trustDomain.name)
      .sort();
    assert.deepEqual(names, [alpha.name, beta.name]);
    assert.ok(source.getX509BundleForTrustDomain(alpha).x509Authorities.length > 0);
  });

  it('agrees with the one-shot calls of the client', async () => {
    await using client = new WorkloadApiClient();
    await using source = await X509Source.create({ client, timeout: 60_000 });
    const context = await client.fetchX509Context();
    assert.equal(context.defaultSvid.id.toString(), runner.id);
    assert.ok(
      context.defaultSvid.certificates[0]!.raw.equals(source.getX509Svid().certificates[0]!.raw),
    );
    const bundles = await client.fetchX509Bundles();
    assert.ok(
      bundles.getX509BundleForTrustDomain(alpha).equals(source.getX509BundleForTrustDomain(alpha)),
    );
    assert.ok(
      bundles.getX509BundleForTrustDomain(beta).equals(source.getX509BundleForTrustDomain(beta)),
    );
  });
});
