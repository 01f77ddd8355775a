// An mTLS HTTP/2 server that also speaks HTTP/1.1 (allowHTTP1), an HTTP/2 client, and an HTTP/1.1
// client on the same port:
//   npm run build && node dist/examples/tls-http2.js
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509BundleSet } from 'spiffe-sdk/bundle';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeAny,
  authorizeId,
  createHttp2SecureServer,
  http2Connect,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  staticX509Source,
} from 'spiffe-sdk/tls';

const ca = await TestCA.create({ trustDomain: 'example.org' });
const bundles = X509BundleSet.of(ca.x509Bundle());
const server = createHttp2SecureServer(
  mtlsServer(
    staticX509Source(await ca.issueX509Svid('spiffe://example.org/api'), bundles),
    authorizeAny(),
  ),
  { allowHTTP1: true },
  (req, res) => {
    res.end(`HTTP/${req.httpVersion} hello ${peerIdOf(req)?.toString() ?? '?'}\n`);
  },
);
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;

const mode = mtlsClient(
  staticX509Source(await ca.issueX509Svid('spiffe://example.org/web'), bundles),
  authorizeId('spiffe://example.org/api'),
);

const session = http2Connect(mode, `https://127.0.0.1:${port}`);
const stream = session.request({ ':path': '/' });
let body = '';
stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
await new Promise((resolve) => stream.on('end', resolve));
console.log(`${body.trim()} (server ${peerIdOf(session)?.toString() ?? '?'})`);
session.close();

await new Promise<void>((resolve, reject) => {
  https
    .get({ ...mode.httpsOptions(), host: '127.0.0.1', port, path: '/' }, (res) => {
      res.on('data', (chunk: Buffer) => process.stdout.write(chunk));
      res.on('end', resolve);
    })
    .on('error', reject);
});
server.close();
