// The two Web PKI modes: an mTLS-web server presents a Web PKI certificate (here from a stand-in
// "public" CA) while authenticating SPIFFE clients, and an mTLS-web client presents its SVID to a
// Web PKI server that it authenticates by host name:
//   npm run build && node dist/examples/tls-web.js
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509BundleSet } from 'spiffe-sdk/bundle';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeMemberOf,
  connect,
  createHttpsServer,
  mtlsWebClient,
  mtlsWebServer,
  peerIdOf,
  staticX509Source,
} from 'spiffe-sdk/tls';

const spiffeCa = await TestCA.create({ trustDomain: 'example.org' });
const webCa = await TestCA.create({ trustDomain: 'public-ca.test' }); // stands in for a public CA
const webCert = await webCa.issueX509SvidUnchecked({ uris: [], dnsNames: ['localhost'] });
const clientSvid = await spiffeCa.issueX509Svid('spiffe://example.org/web');

const server = createHttpsServer(
  mtlsWebServer(
    staticX509Source(undefined, X509BundleSet.of(spiffeCa.x509Bundle())),
    authorizeMemberOf('example.org'),
    { key: webCert.privateKey, cert: webCert.certificates },
  ),
  {},
  (req, res) => res.end(`hello ${peerIdOf(req)?.toString() ?? '?'}\n`),
);
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;

// The client checks the server's DNS name against the Web PKI roots (pass none to use Node's).
const mode = mtlsWebClient(staticX509Source(clientSvid, X509BundleSet.of()), {
  roots: webCa.x509Authorities,
});
await new Promise<void>((resolve, reject) => {
  https
    .get(
      { ...mode.httpsOptions(), host: '127.0.0.1', servername: 'localhost', port, path: '/' },
      (res) => {
        res.on('data', (chunk: Buffer) => process.stdout.write(chunk));
        res.on('end', resolve);
      },
    )
    .on('error', reject);
});

// A wrong host name fails the Web PKI check.
const socket = connect(mode, { host: '127.0.0.1', port, servername: 'wrong.example' });
await new Promise<void>((resolve) => {
  socket.on('error', (err: Error & { code?: string }) => {
    console.log(`refused: [${String(err.code)}] ${err.message}`);
    resolve();
  });
});
server.close();
