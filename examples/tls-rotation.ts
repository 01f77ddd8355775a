// Live rotation: a server follows its source (new SVID, new and removed trust domains) without a
// restart; open connections keep working:
//   npm run build && node dist/examples/tls-rotation.js
import type { AddressInfo } from 'node:net';
import { X509BundleSet } from 'spiffe-sdk/bundle';
import { TestCA } from 'spiffe-sdk/testing';
import {
  authorizeAny,
  connect,
  createTlsServer,
  MutableX509Source,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  staticX509Source,
} from 'spiffe-sdk/tls';

const a = await TestCA.create({ trustDomain: 'a.example' });
const b = await TestCA.create({ trustDomain: 'b.example' });
const source = new MutableX509Source(
  await a.issueX509Svid('spiffe://a.example/server'),
  X509BundleSet.of(a.x509Bundle()),
);
const server = createTlsServer(
  mtlsServer(source, authorizeAny(), {
    onReject: (err) => {
      console.log(`  server refused a client: ${err.message}`);
    },
  }),
  {},
  (socket) => socket.end(`hello ${peerIdOf(socket)?.toString() ?? '?'}\n`),
);
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;

const trustAll = X509BundleSet.of(a.x509Bundle(), b.x509Bundle());
const clientOf = async (ca: TestCA, id: string) =>
  mtlsClient(staticX509Source(await ca.issueX509Svid(id), trustAll), authorizeAny());
const fromA = await clientOf(a, 'spiffe://a.example/client');
const fromB = await clientOf(b, 'spiffe://b.example/client');

async function call(label: string, mode: typeof fromA): Promise<void> {
  const socket = connect(mode, { host: '127.0.0.1', port });
  let serial = '-';
  socket.on('secureConnect', () => {
    serial = socket.getPeerX509Certificate()?.serialNumber.slice(0, 8) ?? '-';
    socket.write('hi');
  });
  const result = await new Promise<string>((resolve) => {
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      resolve(data === '' ? 'refused' : data.trim());
    });
  });
  console.log(`${label}: ${result} (server certificate serial ${serial}…)`);
}

await call('a.example client       ', fromA);
await call('b.example client       ', fromB);
source.update({ bundles: trustAll }); // federate with b.example
await call('b.example, federated   ', fromB);
source.update({ svid: await a.issueX509Svid('spiffe://a.example/server') }); // renewed SVID
await call('a.example, new SVID    ', fromA);
source.update({ bundles: X509BundleSet.of(a.x509Bundle()) }); // federation ended
await call('b.example, removed     ', fromB);
server.close();
