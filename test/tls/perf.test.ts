// tls-in-node.md §8 cases 27 and 28: relative, CI-friendly performance guards. One SecureContext
// per generation of material, never one per connection; per-handshake verification within a
// budget; rotations with many CAs built when the source changes, not on the next connection.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA } from '../../src/testing/index.js';
import { type ClientModeImpl } from '../../src/tls/client-mode.js';
import {
  authorizeAny,
  connect,
  createTlsServer,
  MutableX509Source,
  mtlsClient,
  mtlsServer,
  SpiffeHttpsAgent,
  staticX509Source,
} from '../../src/tls/index.js';
import { PeerVerifier } from '../../src/tls/verifier.js';
import {
  close,
  closed,
  countSecureContexts,
  listen,
  pem,
  pems,
  type World,
  world,
} from './helpers.js';

let w: World;

before(async () => {
  w = await world();
});

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function roundTrip(socket: tls.TLSSocket): Promise<void> {
  socket.on('error', () => undefined);
  socket.resume();
  await closed(socket);
}

describe('one SecureContext per generation (§8.27)', () => {
  it('no context is built per connection by connect, the agent or the server', async () => {
    const server = createTlsServer(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny()),
      {},
      (s) => s.end('ok\n'),
    );
    const port = await listen(server);
    const mode = mtlsClient(staticX509Source(w.cliA, w.bundles), authorizeAny());
    const agent = new SpiffeHttpsAgent(mode);
    try {
      await roundTrip(connect(mode, { host: '127.0.0.1', port })); // builds the client's context once
      const count = await countSecureContexts(async () => {
        for (let i = 0; i < 10; i++) await roundTrip(connect(mode, { host: '127.0.0.1', port }));
      });
      assert.equal(count, 0);
      // Control: the same connections with key/cert/ca options build one context each.
      const ca = pems([...w.a.x509Authorities, ...w.b.x509Authorities]);
      const plain = await countSecureContexts(async () => {
        for (let i = 0; i < 3; i++) {
          await roundTrip(
            tls.connect({
              host: '127.0.0.1',
              port,
              ...pem(w.cliA),
              ca,
              checkServerIdentity: () => undefined,
            }),
          );
        }
      });
      assert.equal(plain, 3);
    } finally {
      agent.close();
      await close(server);
    }
  });

  it('https through the agent builds no context per request', async () => {
    const server = https.createServer({ ...pem(w.srvA) }, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    });
    const port = await listen(server);
    const agent = new SpiffeHttpsAgent(
      mtlsClient(staticX509Source(w.cliA, w.bundles), authorizeAny()),
    );
    const get = async (): Promise<void> => {
      const req = https.get({ host: '127.0.0.1', port, path: '/', agent });
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      res.resume();
      await once(res, 'end');
    };
    try {
      await get();
      assert.equal(
        await countSecureContexts(async () => {
          for (let i = 0; i < 5; i++) await get();
        }),
        0,
      );
    } finally {
      agent.close();
      await close(server);
    }
  });
});

describe('verification cost (§8.28)', () => {
  it('the client check stays under 1 ms at p50 (cached) and a cold verification under 5 ms', async () => {
    const server = tls.createServer({ ...pem(w.srvA) }, (s) => s.end());
    const port = await listen(server);
    let legacy: tls.DetailedPeerCertificate;
    try {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      await once(s, 'secureConnect');
      legacy = s.getPeerCertificate(true);
      s.destroy();
    } finally {
      await close(server);
    }
    const mode = mtlsClient(
      staticX509Source(w.cliA, w.bundles),
      authorizeAny(),
    ) as unknown as ClientModeImpl;
    const hot: number[] = [];
    for (let i = 0; i < 200; i++) {
      const check = mode.checker({});
      const t0 = performance.now();
      const err = check('localhost', legacy);
      hot.push(performance.now() - t0);
      assert.equal(err, undefined);
    }
    const cold: number[] = [];
    const raw = [legacy.raw];
    for (let i = 0; i < 30; i++) {
      const verifier = new PeerVerifier(w.bundles);
      const t0 = performance.now();
      verifier.verifyRaw(raw, legacy.fingerprint256, Date.now());
      cold.push(performance.now() - t0);
    }
    assert.ok(median(hot) < 1, `cached check p50 ${median(hot).toFixed(3)} ms`);
    assert.ok(median(cold) < 5, `cold verification p50 ${median(cold).toFixed(3)} ms`);
  });

  it('a bundle update with 100 CAs is applied when the source changes, not on the next connection', async () => {
    const big = await TestCA.create({ trustDomain: 'c.org' });
    for (let i = 0; i < 99; i++) await big.rotateX509Authority();
    const hundred = X509Bundle.fromAuthorities(TrustDomain.parse('c.org'), big.x509Authorities);
    assert.equal(hundred.x509Authorities.length, 100);

    const serverSource = new MutableX509Source(w.srvA, w.bundles);
    const server = createTlsServer(mtlsServer(serverSource, authorizeAny()), {}, (s) =>
      s.end('ok\n'),
    );
    const port = await listen(server);
    const clientSource = new MutableX509Source(w.cliA, w.bundles);
    const mode = mtlsClient(clientSource, authorizeAny());
    const agent = new SpiffeHttpsAgent(mode); // follows the source: pre-builds the client context
    try {
      await roundTrip(connect(mode, { host: '127.0.0.1', port }));
      const onUpdate = await countSecureContexts(async () => {
        serverSource.update({ bundles: w.bundles.with(hundred) });
        clientSource.update({ bundles: w.bundles.with(hundred) });
        await Promise.resolve();
      });
      assert.ok(onUpdate >= 2, `contexts built by the updates: ${onUpdate}`);
      const onConnect = await countSecureContexts(async () => {
        await roundTrip(connect(mode, { host: '127.0.0.1', port }));
      });
      assert.equal(onConnect, 0);
    } finally {
      agent.close();
      await close(server);
    }
  });
});
