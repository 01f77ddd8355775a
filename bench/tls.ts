// TLS handshake rates of spiffe-sdk/tls against plain Node, in the same run, with the same static
// certificates (ECDSA P-256, leaves directly under their roots, two trust domains in the store):
//
// - SPIFFE mTLS (SDK client `connect` + SDK server `createTlsServer`, full verification and
//   authorization on both sides) against plain Node mTLS (cached SecureContext on the client,
//   OpenSSL verification only, a no-op checkServerIdentity), sequential and 8 concurrent.
//   Goal: >= 0.95x.
// - The SDK server with identity-bound resumption: a client that resumes against full handshakes
//   of the same client to the same server. Goal: >= 1.6x.
// - The cost of a rotation (source update -> new generation -> setSecureContext with the complete
//   option set) with 1, 10 and 100 CAs in the trust store.
//
// Servers run in a worker thread, clients in the main thread; configurations alternate in short
// rounds so background load hits them alike. A connection counts when the client has received the
// byte the server writes from its (guarded) connection listener.
// Run: npm run bench -- tls   (or: npx tsc -p tsconfig.json && node dist/bench/tls.js)
import { constants } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { X509Bundle } from '../src/bundle/x509-bundle.js';
import { X509BundleSet } from '../src/bundle/x509-bundle-set.js';
import { TrustDomain } from '../src/spiffeid/index.js';
import { X509Svid } from '../src/svid/x509-svid.js';
import { TestCA } from '../src/testing/index.js';
import {
  authorizeId,
  authorizeMemberOf,
  connect,
  createTlsServer,
  MutableX509Source,
  mtlsClient,
  mtlsServer,
  staticX509Source,
} from '../src/tls/index.js';

const ROUNDS = Number(process.env['TLS_BENCH_ROUNDS'] ?? 8);
const PER_ROUND = Number(process.env['TLS_BENCH_CONNECTIONS'] ?? 60);
const CONCURRENCY = 8;
const VERSIONS = ['TLSv1.3', 'TLSv1.2'] as const;
type Version = (typeof VERSIONS)[number];

interface Material {
  aRoot: string;
  bRoot: string;
  server: { key: string; cert: string };
  client: { key: string; cert: string };
}

interface Ports {
  plain: Record<Version, number>;
  plainNoTicket: Record<Version, number>;
  spiffe: Record<Version, number>;
  bound: Record<Version, number>;
}

function bundles(m: Material): X509BundleSet {
  return X509BundleSet.of(
    X509Bundle.parse(TrustDomain.parse('a.org'), m.aRoot),
    X509Bundle.parse(TrustDomain.parse('b.org'), m.bRoot),
  );
}

// ---------------------------------------------------------------------------------------------
// Worker: the servers.

async function runServers(m: Material): Promise<void> {
  const set = bundles(m);
  const svid = X509Svid.parse(m.server.cert, m.server.key);
  const source = staticX509Source(svid, set);
  const ports: Ports = {
    plain: {} as never,
    plainNoTicket: {} as never,
    spiffe: {} as never,
    bound: {} as never,
  };
  const listen = async (server: tls.Server): Promise<number> => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  };
  const reply = (s: tls.TLSSocket): void => {
    s.on('error', () => undefined);
    s.end('x');
  };
  for (const version of VERSIONS) {
    const plain = tls.createServer({
      ...m.server,
      ca: [m.aRoot, m.bRoot],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: version,
      maxVersion: version,
    });
    plain.on('secureConnection', reply);
    ports.plain[version] = await listen(plain);
    // The same without session tickets, which the SDK server does not issue either.
    const noTicket = tls.createServer({
      ...m.server,
      ca: [m.aRoot, m.bRoot],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: version,
      maxVersion: version,
      secureOptions: constants.SSL_OP_NO_TICKET,
    });
    noTicket.on('secureConnection', reply);
    ports.plainNoTicket[version] = await listen(noTicket);
    const authorizer = authorizeId('spiffe://a.org/client');
    ports.spiffe[version] = await listen(
      createTlsServer(
        mtlsServer(source, authorizer, { minVersion: version, maxVersion: version }),
        {},
        reply,
      ),
    );
    ports.bound[version] = await listen(
      createTlsServer(
        mtlsServer(source, authorizer, {
          minVersion: version,
          maxVersion: version,
          resumption: 'identity-bound',
        }),
        {},
        reply,
      ),
    );
  }
  parentPort?.postMessage(ports);
}

if (!isMainThread) {
  await runServers(workerData as Material);
}

// ---------------------------------------------------------------------------------------------
// Main thread: the clients.

type Connector = () => tls.TLSSocket;

function once1(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Runs `n` connections with `concurrency` in flight; returns elapsed milliseconds. */
async function drive(connector: Connector, n: number, concurrency: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (started < n) {
      started += 1;
      await once1(connector());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return performance.now() - t0;
}

interface Tally {
  n: number;
  ms: number;
}

function rate(t: Tally): number {
  return (t.n / t.ms) * 1000;
}

async function main(): Promise<void> {
  const [a, b] = await Promise.all([
    TestCA.create({ trustDomain: 'a.org' }),
    TestCA.create({ trustDomain: 'b.org' }),
  ]);
  const [serverSvid, clientSvid] = await Promise.all([
    a.issueX509Svid('spiffe://a.org/server'),
    a.issueX509Svid('spiffe://a.org/client'),
  ]);
  const pemOf = (s: X509Svid): { key: string; cert: string } => {
    const m = s.marshal();
    return { key: m.privateKey, cert: m.certificates };
  };
  const material: Material = {
    aRoot: a.x509Bundle().marshal(),
    bRoot: b.x509Bundle().marshal(),
    server: pemOf(serverSvid),
    client: pemOf(clientSvid),
  };
  const worker = new Worker(new URL(import.meta.url), { workerData: material });
  const [ports] = (await once(worker, 'message')) as [Ports];

  const set = bundles(material);
  const mode = mtlsClient(staticX509Source(clientSvid, set), authorizeId('spiffe://a.org/server'));
  const plainCtx = tls.createSecureContext({
    ...material.client,
    ca: [material.aRoot, material.bRoot],
  });
  const noCheck = (): undefined => undefined;

  const rows: string[] = [];
  for (const version of VERSIONS) {
    const plain: Connector = () =>
      tls.connect({
        host: '127.0.0.1',
        port: ports.plain[version],
        secureContext: plainCtx,
        checkServerIdentity: noCheck,
      });
    const plainNoTicket: Connector = () =>
      tls.connect({
        host: '127.0.0.1',
        port: ports.plainNoTicket[version],
        secureContext: plainCtx,
        checkServerIdentity: noCheck,
      });
    const spiffe: Connector = () =>
      connect(mode, { host: '127.0.0.1', port: ports.spiffe[version] });
    const full: Connector = () =>
      tls.connect({
        host: '127.0.0.1',
        port: ports.bound[version],
        secureContext: plainCtx,
        checkServerIdentity: noCheck,
      });
    let session: Buffer | undefined;
    let resumed = 0;
    let total = 0;
    const resuming: Connector = () => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: ports.bound[version],
        secureContext: plainCtx,
        checkServerIdentity: noCheck,
        ...(session === undefined ? {} : { session }),
      });
      s.on('session', (next: Buffer) => (session = next));
      s.once('secureConnect', () => {
        total += 1;
        if (s.isSessionReused()) resumed += 1;
      });
      return s;
    };
    // Warm up every path (JIT, caches, first session).
    for (const c of [plain, plainNoTicket, spiffe, full, resuming]) await drive(c, 20, 1);

    for (const concurrency of [1, CONCURRENCY]) {
      const t = {
        plain: { n: 0, ms: 0 },
        plainNoTicket: { n: 0, ms: 0 },
        spiffe: { n: 0, ms: 0 },
        full: { n: 0, ms: 0 },
        resumed: { n: 0, ms: 0 },
      };
      resumed = 0;
      total = 0;
      const n = concurrency === 1 ? PER_ROUND : PER_ROUND * 2;
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, c] of [
          ['plain', plain],
          ['plainNoTicket', plainNoTicket],
          ['spiffe', spiffe],
          ['full', full],
          ['resumed', resuming],
        ] as const) {
          const ms = await drive(c, n, concurrency);
          t[name].n += n;
          t[name].ms += ms;
        }
      }
      const label = concurrency === 1 ? 'sequential' : `${concurrency} concurrent`;
      rows.push(
        `| ${version} | ${label} | ${rate(t.plain).toFixed(0)} | ${rate(t.plainNoTicket).toFixed(0)} | ${rate(t.spiffe).toFixed(0)} | **${(rate(t.spiffe) / rate(t.plainNoTicket)).toFixed(2)}x** (${(rate(t.spiffe) / rate(t.plain)).toFixed(2)}x) | ${rate(t.full).toFixed(0)} | ${rate(t.resumed).toFixed(0)} (${resumed}/${total} resumed) | **${(rate(t.resumed) / rate(t.full)).toFixed(2)}x** |`,
      );
    }
  }
  await worker.terminate();

  console.log('Handshakes per second (new TCP + TLS connection until the first server byte).\n');
  console.log(
    '| TLS | clients | plain Node mTLS (Node defaults: tickets) | plain Node mTLS, no tickets | SPIFFE mTLS | SPIFFE / plain no tickets (/ plain defaults); goal >= 0.95x | SDK server, full handshakes | SDK server, identity-bound resumption | resumed / full (goal >= 1.6x) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);

  // Rotation cost: a source update that changes the bundles, applied to a live server.
  console.log(
    '\nCost of one rotation (source update: new generation + setSecureContext with the complete option set).\n',
  );
  console.log('| CAs in the trust store | ms per rotation | plain `setSecureContext` (ms) |');
  console.log('|---|---|---|');
  const many = await TestCA.create({ trustDomain: 'c.org' });
  for (let i = 1; i < 100; i++) await many.rotateX509Authority();
  const all = many.x509Authorities;
  for (const count of [1, 10, 100]) {
    const roots = all.slice(0, count);
    const trust = X509Bundle.fromAuthorities(TrustDomain.parse('c.org'), roots);
    const setA = X509BundleSet.of(a.x509Bundle(), trust);
    const setB = X509BundleSet.of(b.x509Bundle(), trust);
    const source = new MutableX509Source(serverSvid, setA);
    const server = createTlsServer(mtlsServer(source, authorizeMemberOf('a.org')));
    const reps = count === 100 ? 10 : 30;
    let t0 = performance.now();
    for (let i = 0; i < reps; i++) source.update({ bundles: i % 2 === 0 ? setB : setA });
    const sdkMs = (performance.now() - t0) / reps;
    const plainServer = tls.createServer({});
    const caPem = [...setA.bundles(), ...setB.bundles()].flatMap((bb) =>
      bb.x509Authorities.map((c) => c.toString()),
    );
    t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      plainServer.setSecureContext({ ...material.server, ca: caPem.slice(0, count + 1) });
    }
    const plainMs = (performance.now() - t0) / reps;
    server.close();
    console.log(`| ${count + 1} | ${sdkMs.toFixed(2)} | ${plainMs.toFixed(2)} |`);
  }
}

if (isMainThread) await main();
