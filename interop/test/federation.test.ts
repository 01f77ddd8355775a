// Federation between alpha.test and beta.test, each with its own SPIRE server and agent. alpha's
// server federates with beta through SPIRE's https_spiffe bundle endpoint (set up by run.mjs). The
// tests run in order: our fetchBundle reads SPIRE's endpoint; beta's server federates with alpha
// through OUR bundle endpoint server; then workloads of the two trust domains authenticate each
// other with the bundles their agents federate.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle, X509BundleSet } from 'spiffe-sdk/bundle';
import {
  BundleEndpointError,
  createBundleEndpointServer,
  fetchBundle,
} from 'spiffe-sdk/federation';
import { TrustDomain } from 'spiffe-sdk/spiffeid';
import { authorizeId, mtlsClient, SpiffeHttpsAgent, staticX509Source } from 'spiffe-sdk/tls';
import { BundleSource, X509Source } from 'spiffe-sdk/workloadapi';
import { deployment, get, NodeWorkload, runner, spireServer } from './helpers.js';

const alphaInfo = deployment.trustDomains.alpha;
const betaInfo = deployment.trustDomains.beta;
const alpha = TrustDomain.parse(alphaInfo.name);
const beta = TrustDomain.parse(betaInfo.name);
const betaServerInfo = deployment.workloads.betaServer;

let x509: X509Source;
let bundles: BundleSource;

before(async () => {
  x509 = await X509Source.create({ timeout: 60_000 });
  bundles = await BundleSource.create({ timeout: 60_000 });
});
after(async () => {
  await x509.close();
  await bundles.close();
});

function rawAuthorities(bundle: SpiffeBundle): string[] {
  return bundle.x509Authorities.map((c) => c.raw.toString('base64')).sort();
}

function jwtKeyIds(bundle: SpiffeBundle): string[] {
  return [...bundle.jwtAuthorities.keys()].sort();
}

/** The bundle of `td` that the SPIRE server of `server` stores (a federated bundle). */
async function storedBundle(server: 'alpha' | 'beta', td: TrustDomain): Promise<SpiffeBundle> {
  const json = await spireServer(server, ['bundle', 'list'], ['-id', td.name, '-format', 'spiffe']);
  return SpiffeBundle.parse(td, json);
}

describe('federation with SPIRE', () => {
  it("fetchBundle reads SPIRE's https_spiffe bundle endpoint", async () => {
    const fetched = await fetchBundle(beta, betaInfo.bundleEndpointUrl, {
      // beta.test's bundle comes from alpha's agent, which federates with beta.
      auth: { profile: 'https_spiffe', endpointId: betaInfo.serverId, bundleSource: x509 },
      timeout: 30_000,
    });
    const expected = SpiffeBundle.parse(
      beta,
      await spireServer('beta', ['bundle', 'show'], ['-format', 'spiffe']),
    );
    assert.deepEqual(rawAuthorities(fetched), rawAuthorities(expected));
    assert.deepEqual(jwtKeyIds(fetched), jwtKeyIds(expected));
    assert.ok(jwtKeyIds(fetched).length > 0);
  });

  it("fetchBundle refuses SPIRE's endpoint for another endpoint ID, or without beta's bundle", async () => {
    await assert.rejects(
      fetchBundle(beta, betaInfo.bundleEndpointUrl, {
        auth: {
          profile: 'https_spiffe',
          endpointId: 'spiffe://beta.test/not-spire',
          bundleSource: x509,
        },
        timeout: 30_000,
      }),
      (err: unknown) => err instanceof BundleEndpointError && err.reason === 'tls',
    );
    const alphaOnly = X509BundleSet.of(x509.getX509BundleForTrustDomain(alpha));
    await assert.rejects(
      fetchBundle(beta, betaInfo.bundleEndpointUrl, {
        auth: { profile: 'https_spiffe', endpointId: betaInfo.serverId, bundleSource: alphaOnly },
        timeout: 30_000,
      }),
    );
  });

  it('SPIRE fetches the bundle from our https_spiffe bundle endpoint server', async () => {
    await using endpoint = createBundleEndpointServer({
      profile: 'https_spiffe',
      trustDomain: alpha,
      bundleSource: bundles,
      x509Source: x509,
    });
    const url = await endpoint.listen(0, '127.0.0.1');
    let requests = 0;
    endpoint.server.on('request', () => requests++);

    // beta starts from alpha's X.509 authorities only: enough to authenticate our endpoint, and
    // without the JWT authorities, so that they can only come from our endpoint.
    const bootstrap = join(deployment.dir, 'alpha-bootstrap.pem');
    writeFileSync(bootstrap, await spireServer('alpha', ['bundle', 'show']));
    await spireServer(
      'beta',
      ['federation', 'create'],
      [
        '-trustDomain',
        alpha.name,
        '-bundleEndpointURL',
        url.href,
        '-bundleEndpointProfile',
        'https_spiffe',
        '-endpointSpiffeID',
        runner.id,
        '-trustDomainBundlePath',
        bootstrap,
        '-trustDomainBundleFormat',
        'pem',
      ],
    );
    // SPIRE fetches once when the relationship is created; a refresh fetches again, synchronously.
    const before = requests;
    await spireServer('beta', ['federation', 'refresh'], ['-id', alpha.name]);
    assert.ok(requests > before);
    const stored = await storedBundle('beta', alpha);
    const served = bundles.getBundleForTrustDomain(alpha);
    assert.deepEqual(rawAuthorities(stored), rawAuthorities(served));
    assert.deepEqual(jwtKeyIds(stored), jwtKeyIds(served));
    assert.ok(jwtKeyIds(stored).length > 0);
  });

  it('workloads of the two trust domains authenticate each other through federated bundles', async () => {
    await using betaServer = await NodeWorkload.start('betaServer');
    const { port } = (await betaServer.call({ op: 'serve', allow: runner.id })) as { port: number };
    const url = `https://127.0.0.1:${port}/`;
    const agent = new SpiffeHttpsAgent(mtlsClient(x509, authorizeId(betaServerInfo.id)));
    // The same client without the beta.test bundle that alpha's agent federates.
    const withoutBeta = staticX509Source(
      x509.getX509Svid(),
      X509BundleSet.of(x509.getX509BundleForTrustDomain(alpha)),
    );
    const unfederated = new SpiffeHttpsAgent(
      mtlsClient(withoutBeta, authorizeId(betaServerInfo.id)),
    );
    try {
      // The beta workload's entry does not federate with alpha yet: it cannot authenticate us.
      await assert.rejects(get(agent, url));

      const from = betaServer.events.length;
      await spireServer(
        'beta',
        ['entry', 'update'],
        [...betaServerInfo.entryArgs, '-federatesWith', `spiffe://${alpha.name}`],
      );
      await betaServer.events.waitFor(
        "alpha's bundle at the beta workload",
        (e) => e.event === 'update' && e.trustDomains.includes(alpha.name),
        from,
      );
      const response = await get(agent, url);
      assert.equal(response.status, 200);
      assert.equal(response.server, betaServerInfo.id);
      assert.equal(response.body, runner.id);

      // Without beta's bundle, our client cannot authenticate the beta workload.
      await assert.rejects(get(unfederated, url));
    } finally {
      agent.destroy();
      unfederated.destroy();
    }
  });
});
