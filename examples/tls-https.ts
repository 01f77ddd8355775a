// An mTLS HTTPS server and two kinds of HTTPS clients (a pooled agent and per-request options),
// with certificates from the test CA so it runs anywhere:
//   npm run build && node dist/examples/tls-https.js
// In production, the source is the Workload API's X509Source instead of staticX509Source.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509BundleSet } from 'spiffe-sdk/bundle';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeId,
  authorizeMemberOf,
  createHttpsServer,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  SpiffeHttpsAgent,
  staticX509Source,
} from 'spiffe-sdk/tls';

const ca = await TestCA.create({ trustDomain: 'example.org' });
const bundles = X509BundleSet.of(ca.x509Bundle());
const serverSource = staticX509Source(await ca.issueX509Svid('spiffe://example.org/api'), bundles);
const clientSource = staticX509Source(await ca.issueX509Svid('spiffe://example.org/web'), bundles);

// The server accepts any workload of example.org; handlers read the ID verified at handshake time.
const server = createHttpsServer(
  mtlsServer(serverSource, authorizeMemberOf('example.org')),
  {},
  (req, res) => {
    res.end(`hello ${peerIdOf(req)?.toString() ?? '?'}\n`);
  },
);
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;

function get(options: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ ...options, host: '127.0.0.1', port, path: '/' }, (res) => {
        const server = peerIdOf(res)?.toString() ?? '?'; // read it while the socket is attached
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          resolve(`${body.trim()} (server ${server})`);
        });
      })
      .on('error', reject);
  });
}

// A pooled client that only talks to spiffe://example.org/api.
const mode = mtlsClient(clientSource, authorizeId('spiffe://example.org/api'));
const agent = new SpiffeHttpsAgent(mode, { keepAlive: true });
console.log('agent:  ', await get({ agent }));
console.log('options:', await get(mode.httpsOptions()));

// A client that expects another server ID is refused before any request byte is sent.
const wrong = mtlsClient(clientSource, authorizeId('spiffe://example.org/billing'));
await get(wrong.httpsOptions()).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  console.log(`refused: [${String(e.code)}] ${e.message}`);
});

agent.close();
server.close();
