// Two trust domains, a.test and b.test, federate with SPIFFE bundle endpoints (https_spiffe
// profile), then a workload of b.test calls a workload of a.test over mTLS, each side trusting the
// other's bundle it fetched. Certificates come from the test CA, so it runs anywhere:
//   npm run build && node dist/examples/federation.js
// In production each trust domain's SPIRE server (or createBundleEndpointServer fed by an
// X509Source) serves the bundle, and workloads get federated bundles from the Workload API.
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { SpiffeBundle, X509BundleSet } from 'spiffe-sdk/bundle';
import { type BundleWatch, createBundleEndpointServer, watchBundle } from 'spiffe-sdk/federation';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeId,
  authorizeMemberOf,
  createHttpsServer,
  MutableX509Source,
  mtlsClient,
  mtlsServer,
  peerIdOf,
} from 'spiffe-sdk/tls';

const [caA, caB] = await Promise.all([
  TestCA.create({ trustDomain: 'a.test' }),
  TestCA.create({ trustDomain: 'b.test' }),
]);

// Each trust domain serves its own bundle, authenticated with an X509-SVID of its own.
async function bundleEndpoint(ca: TestCA) {
  const endpointId = `spiffe://${ca.trustDomain.name}/bundle-endpoint`;
  const endpoint = createBundleEndpointServer({
    profile: 'https_spiffe',
    trustDomain: ca.trustDomain,
    bundleSource: SpiffeBundle.fromX509Bundle(ca.x509Bundle())
      .withSequenceNumber(1n)
      .withRefreshHint(300),
    x509Source: new MutableX509Source(await ca.issueX509Svid(endpointId), ca.x509Bundle()),
  });
  return { endpoint, endpointId, url: await endpoint.listen(0, '127.0.0.1') };
}
const endpointA = await bundleEndpoint(caA);
const endpointB = await bundleEndpoint(caB);

// Out of band, each side got the other's endpoint URL, endpoint SPIFFE ID and a bootstrap
// bundle. From then on each watch keeps the other's bundle current (and authenticates the
// endpoint with the newest bundle it fetched, so the other side can rotate its keys).
const bInA = watchBundle('b.test', endpointB.url, {
  auth: {
    profile: 'https_spiffe',
    endpointId: endpointB.endpointId,
    bundleSource: caB.x509Bundle(),
  },
  onError: (err) => {
    console.warn('a.test cannot refresh b.test:', err.message);
  },
});
const aInB = watchBundle('a.test', endpointA.url, {
  auth: {
    profile: 'https_spiffe',
    endpointId: endpointA.endpointId,
    bundleSource: caA.x509Bundle(),
  },
  onError: (err) => {
    console.warn('b.test cannot refresh a.test:', err.message);
  },
});
const [bBundle, aBundle] = await Promise.all([bInA.waitForBundle(), aInB.waitForBundle()]);
console.log(`a.test fetched b.test's bundle: ${bBundle.x509Authorities.length} CA(s)`);
console.log(`b.test fetched a.test's bundle: ${aBundle.x509Authorities.length} CA(s)`);

// Each workload trusts its own trust domain and the federated one, kept apart per trust domain.
const apiSource = new MutableX509Source(
  await caA.issueX509Svid('spiffe://a.test/api'),
  X509BundleSet.of(caA.x509Bundle(), bBundle.x509Bundle()),
);
const webSource = new MutableX509Source(
  await caB.issueX509Svid('spiffe://b.test/web'),
  X509BundleSet.of(caB.x509Bundle(), aBundle.x509Bundle()),
);
// Follow later updates of the federated bundles (the loops end when the watches close).
function follow(watch: BundleWatch, source: MutableX509Source, own: TestCA): Promise<void> {
  return (async () => {
    for await (const bundle of watch) {
      source.update({ bundles: X509BundleSet.of(own.x509Bundle(), bundle.x509Bundle()) });
    }
  })();
}
const following = [follow(bInA, apiSource, caA), follow(aInB, webSource, caB)];

// a.test's API accepts callers from the federated trust domain b.test.
const server = createHttpsServer(
  mtlsServer(apiSource, authorizeMemberOf('b.test')),
  {},
  (req, res) => {
    res.end(`hello ${peerIdOf(req)?.toString() ?? '?'}`);
  },
);
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;

// b.test's web workload calls it, accepting only spiffe://a.test/api as the server.
const mode = mtlsClient(webSource, authorizeId('spiffe://a.test/api'));
const answer = await new Promise<string>((resolve, reject) => {
  https
    .get({ ...mode.httpsOptions(), host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        resolve(body);
      });
    })
    .on('error', reject);
});
console.log(`b.test -> a.test over mTLS: ${answer}`);
assert.equal(answer, 'hello spiffe://b.test/web');

await Promise.all([bInA.close(), aInB.close()]);
await Promise.all(following);
await Promise.all([endpointA.endpoint.close(), endpointB.endpoint.close()]);
server.close();
