// Raw TLS sockets: an mTLS server and client, and a TLS server (no client certificate) with a
// TLS client that authenticates the server only:
//   npm run build && node dist/examples/tls-socket.js
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { X509BundleSet } from 'spiffe-sdk/bundle';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeId,
  authorizeOneOf,
  connect,
  createTlsServer,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  staticX509Source,
  tlsClient,
  tlsServer,
} from 'spiffe-sdk/tls';

const ca = await TestCA.create({ trustDomain: 'example.org' });
const bundles = X509BundleSet.of(ca.x509Bundle());
const serverSvid = await ca.issueX509Svid('spiffe://example.org/echo');
const clientSvid = await ca.issueX509Svid('spiffe://example.org/cli');

async function start(server: tls.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

function talk(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.on('secureConnect', () => socket.write('ping\n'));
    socket.on('data', (chunk: Buffer) => {
      resolve(`${chunk.toString().trim()} (server ${peerIdOf(socket)?.toString() ?? '?'})`);
      socket.end();
    });
    socket.on('error', reject);
  });
}

// mTLS: both sides present and verify X509-SVIDs.
const mtls = createTlsServer(
  mtlsServer(staticX509Source(serverSvid, bundles), authorizeOneOf('spiffe://example.org/cli')),
  {},
  (socket) =>
    socket.once('data', () => socket.write(`pong to ${peerIdOf(socket)?.toString() ?? '?'}\n`)),
);
const mtlsPort = await start(mtls);
const mode = mtlsClient(
  staticX509Source(clientSvid, bundles),
  authorizeId('spiffe://example.org/echo'),
);
console.log('mTLS:', await talk(connect(mode, { host: '127.0.0.1', port: mtlsPort })));

// TLS: only the server is authenticated; the client needs the bundle but no SVID.
const plain = createTlsServer(tlsServer(staticX509Source(serverSvid, bundles)), {}, (socket) =>
  socket.once('data', () => socket.write('pong to an anonymous client\n')),
);
const tlsPort = await start(plain);
const anonymous = tlsClient(
  staticX509Source(undefined, bundles),
  authorizeId('spiffe://example.org/echo'),
);
console.log('TLS: ', await talk(connect(anonymous, { host: '127.0.0.1', port: tlsPort })));

mtls.close();
plain.close();
