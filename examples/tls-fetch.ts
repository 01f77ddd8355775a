// fetch() over SPIFFE mTLS with an undici dispatcher (undici is an optional peer dependency):
//   npm run build && node dist/examples/tls-fetch.js
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { X509BundleSet } from 'spiffe-sdk/bundle';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeAny,
  authorizeId,
  createHttpsServer,
  createUndiciDispatcher,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  staticX509Source,
} from 'spiffe-sdk/tls';

const ca = await TestCA.create({ trustDomain: 'example.org' });
const bundles = X509BundleSet.of(ca.x509Bundle());
const server = createHttpsServer(
  mtlsServer(
    staticX509Source(await ca.issueX509Svid('spiffe://example.org/api'), bundles),
    authorizeAny(),
  ),
  {},
  (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ caller: peerIdOf(req)?.toString() }));
  },
);
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;

await using dispatcher = await createUndiciDispatcher(
  mtlsClient(
    staticX509Source(await ca.issueX509Svid('spiffe://example.org/web'), bundles),
    authorizeId('spiffe://example.org/api'),
  ),
);
const res = await fetch(`https://127.0.0.1:${port}/whoami`, { dispatcher });
console.log(res.status, await res.json());
server.close();
