// tls-in-node.md §8 cases 22, 24, 25: rotation of SVIDs and bundles on live servers and clients.
// Servers get setSecureContext with the COMPLETE option set; clients use the new context for new
// connections; existing connections keep working; pooled connections are dropped when trust is
// removed.
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { fetch } from 'undici';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import { TestCA } from '../../src/testing/index.js';
import {
  applyServerMode,
  authorizeAny,
  authorizeMemberOf,
  connect,
  createHttpsServer,
  createTlsServer,
  createUndiciDispatcher,
  MutableX509Source,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  SpiffeHttpsAgent,
  staticX509Source,
  tlsServer,
} from '../../src/tls/index.js';
import {
  close,
  closed,
  listen,
  outcome,
  pem,
  pems,
  plainConnect,
  tryRenegotiate,
  type World,
  world,
} from './helpers.js';

let w: World;
let ca: string[];

before(async () => {
  w = await world();
  ca = pems([...w.a.x509Authorities, ...w.b.x509Authorities]);
});

const { SSL_OP_NO_TICKET, SSL_OP_NO_RENEGOTIATION } = constants;

/** Server-side properties Node keeps for the context it builds (read to check what survived). */
interface ServerInternals {
  secureOptions?: number;
  minVersion?: string;
  sessionIdContext?: string;
  sessionTimeout?: number;
  requestCert: boolean;
}

function serial(socket: tls.TLSSocket): string {
  return socket.getPeerX509Certificate()?.serialNumber ?? 'none';
}

describe('rotation keeps the complete option set (§8.22)', () => {
  it('control: a plain setSecureContext with partial options silently re-enables TLS 1.2', async () => {
    const server = tls.createServer({ ...pem(w.srvA), minVersion: 'TLSv1.3' }, (s) =>
      s.end('hi\n'),
    );
    const port = await listen(server);
    try {
      assert.equal((await outcome(plainConnect(port, { ca, version: 'TLSv1.2' }))).ok, false);
      server.setSecureContext({ ...pem(w.srvA) });
      assert.equal((await outcome(plainConnect(port, { ca, version: 'TLSv1.2' }))).ok, true);
    } finally {
      await close(server);
    }
  });

  it('minVersion, NO_TICKET, NO_RENEGOTIATION, sessionIdContext and requestCert survive rotations', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const mode = mtlsServer(source, authorizeAny(), { minVersion: 'TLSv1.3' });
    const server = createTlsServer(mode, {}, (s) => s.end(`${String(peerIdOf(s))}\n`));
    const internals = server as unknown as ServerInternals;
    const port = await listen(server);
    try {
      const contextBefore = internals.sessionIdContext;
      source.update({ svid: await w.a.issueX509Svid('spiffe://a.org/server') });
      source.update({
        bundles: w.bundles.with((await TestCA.create({ trustDomain: 'c.org' })).x509Bundle()),
      });
      assert.ok(((internals.secureOptions ?? 0) & SSL_OP_NO_TICKET) !== 0);
      assert.ok(((internals.secureOptions ?? 0) & SSL_OP_NO_RENEGOTIATION) !== 0);
      assert.equal(internals.minVersion, 'TLSv1.3');
      assert.equal(internals.requestCert, true);
      assert.notEqual(internals.sessionIdContext, contextBefore);
      assert.equal(internals.sessionIdContext, mode.serverOptions().sessionIdContext);
      // Behaviour after the rotations: TLS 1.2 refused, no client certificate refused, TLS 1.3 served.
      assert.equal(
        (await outcome(plainConnect(port, { ...pem(w.cliA), ca, version: 'TLSv1.2' }))).ok,
        false,
      );
      assert.equal((await outcome(plainConnect(port, { ca, version: 'TLSv1.3' }))).ok, false);
      assert.deepEqual(
        await outcome(plainConnect(port, { ...pem(w.cliA), ca, version: 'TLSv1.3' })),
        {
          ok: true,
          data: 'spiffe://a.org/client\n',
        },
      );
    } finally {
      await close(server);
    }
  });

  it('after a rotation a TLS 1.2 session is not resumed and renegotiation is still refused', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const server = createTlsServer(mtlsServer(source, authorizeAny()), {}, (s) => s.resume());
    const port = await listen(server);
    try {
      source.update({ svid: await w.a.issueX509Svid('spiffe://a.org/server') });
      const first = plainConnect(port, { ...pem(w.cliA), ca, version: 'TLSv1.2' });
      first.on('error', () => undefined); // the refused renegotiation also surfaces here
      await once(first, 'secureConnect');
      const session = first.getSession();
      assert.ok(session !== undefined);
      const renegotiated = await tryRenegotiate(first);
      assert.ok(renegotiated instanceof Error);
      first.destroy();
      const second = plainConnect(port, { ...pem(w.cliA), ca, version: 'TLSv1.2', session });
      await once(second, 'secureConnect');
      assert.equal(second.isSessionReused(), false);
      second.destroy();
    } finally {
      await close(server);
    }
  });
});

describe('SVID rotation (§8.24)', () => {
  it('the next connection presents the new SVID (also without SNI); open connections keep working', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const server = createTlsServer(mtlsServer(source, authorizeAny()), {}, (s) => {
      s.on('data', (c: Buffer) => s.write(c)); // echo
    });
    const port = await listen(server);
    const clientMode = mtlsClient(staticX509Source(w.cliA, w.bundles), authorizeMemberOf('a.org'));
    try {
      // Connect by IP without servername: no SNI, so an SNICallback-based rotation would not run.
      const old = connect(clientMode, { host: '127.0.0.1', port });
      await once(old, 'secureConnect');
      const oldSerial = serial(old);
      assert.equal(oldSerial, w.srvA.certificates[0]!.serialNumber);

      const renewed = await w.a.issueX509Svid('spiffe://a.org/server');
      source.update({ svid: renewed });

      const fresh = connect(clientMode, { host: '127.0.0.1', port });
      await once(fresh, 'secureConnect');
      assert.equal(serial(fresh), renewed.certificates[0]!.serialNumber);
      assert.notEqual(serial(fresh), oldSerial);
      fresh.destroy();

      old.write('still-alive\n');
      const [echo] = (await once(old, 'data')) as [Buffer];
      assert.equal(echo.toString(), 'still-alive\n');
      old.destroy();
    } finally {
      await close(server);
    }
  });

  it('a client presents its rotated SVID on new connections', async () => {
    const seen: string[] = [];
    const server = createTlsServer(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny()),
      {},
      (s) => {
        seen.push(serial(s));
        s.end('ok\n');
      },
    );
    const port = await listen(server);
    const source = new MutableX509Source(w.cliA, w.bundles);
    const mode = mtlsClient(source, authorizeAny());
    const agent = new SpiffeHttpsAgent(mode);
    try {
      await outcome(connect(mode, { host: '127.0.0.1', port }));
      const renewed = await w.a.issueX509Svid('spiffe://a.org/client');
      source.update({ svid: renewed });
      await outcome(connect(mode, { host: '127.0.0.1', port }));
      assert.deepEqual(seen, [
        w.cliA.certificates[0]!.serialNumber,
        renewed.certificates[0]!.serialNumber,
      ]);
    } finally {
      agent.close();
      await close(server);
    }
  });

  it('a TLS server (no client auth) follows its source too', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const server = createTlsServer(tlsServer(source), {}, (s) => s.end('ok\n'));
    const port = await listen(server);
    try {
      const renewed = await w.a.issueX509Svid('spiffe://a.org/server');
      source.update({ svid: renewed });
      const s = plainConnect(port, { ca });
      await once(s, 'secureConnect');
      assert.equal(serial(s), renewed.certificates[0]!.serialNumber);
      s.destroy();
    } finally {
      await close(server);
    }
  });
});

describe('bundle rotation (§8.25)', () => {
  it('a new trust domain is accepted without a restart; a removed one is refused on new connections', async () => {
    const c = await TestCA.create({ trustDomain: 'c.org' });
    const cliC = await c.issueX509Svid('spiffe://c.org/client');
    const source = new MutableX509Source(w.srvA, w.bundles);
    const server = createTlsServer(mtlsServer(source, authorizeAny()), {}, (s) => {
      s.on('data', () => s.write(`${String(peerIdOf(s))}\n`));
    });
    const port = await listen(server);
    const allCa = pems([...w.a.x509Authorities, ...w.b.x509Authorities, ...c.x509Authorities]);
    const ask = async (material: { key: string; cert: string }): Promise<boolean> => {
      const s = plainConnect(port, { ...material, ca: allCa });
      s.write('who\n');
      return (await outcome(s)).ok;
    };
    try {
      assert.equal(await ask(pem(cliC)), false);
      source.update({ bundles: w.bundles.with(c.x509Bundle()) });
      assert.equal(await ask(pem(cliC)), true);

      // An open b.org connection, then b.org is removed.
      const openB = plainConnect(port, { ...pem(w.cliB), ca: allCa });
      openB.write('who\n');
      const [first] = (await once(openB, 'data')) as [Buffer];
      assert.equal(first.toString(), 'spiffe://b.org/client\n');
      assert.equal(await ask(pem(w.cliB)), true);
      source.update({ bundles: X509BundleSet.of(w.a.x509Bundle(), c.x509Bundle()) });
      assert.equal(await ask(pem(w.cliB)), false);
      assert.equal(await ask(pem(w.cliA)), true);
      // The already-open connection keeps working (it was authorized under the old trust).
      openB.write('who\n');
      const [again] = (await once(openB, 'data')) as [Buffer];
      assert.equal(again.toString(), 'spiffe://b.org/client\n');
      openB.destroy();
    } finally {
      await close(server);
    }
  });

  it('a rotated root of the same trust domain is accepted once the bundle has it', async () => {
    const rotating = await TestCA.create({ trustDomain: 'a.org' });
    const oldClient = await rotating.issueX509Svid('spiffe://a.org/client');
    const oldOnly = X509BundleSet.of(rotating.x509Bundle(), w.b.x509Bundle());
    await rotating.rotateX509Authority();
    const newClient = await rotating.issueX509Svid('spiffe://a.org/client');
    const source = new MutableX509Source(w.srvA, oldOnly);
    const server = createTlsServer(mtlsServer(source, authorizeAny()), {}, (s) => s.end('ok\n'));
    const port = await listen(server);
    const allCa = pems([...w.a.x509Authorities, ...rotating.x509Authorities]);
    try {
      assert.equal((await outcome(plainConnect(port, { ...pem(newClient), ca: allCa }))).ok, false);
      source.update({ bundles: X509BundleSet.of(rotating.x509Bundle(), w.b.x509Bundle()) });
      assert.equal((await outcome(plainConnect(port, { ...pem(newClient), ca: allCa }))).ok, true);
      assert.equal((await outcome(plainConnect(port, { ...pem(oldClient), ca: allCa }))).ok, true);
    } finally {
      await close(server);
    }
  });

  it('a rotation that cannot be applied is reported, and peers are judged by the new (stricter) trust', async () => {
    const errors: Error[] = [];
    const source = new MutableX509Source(w.srvA, w.bundles);
    const server = createTlsServer(
      mtlsServer(source, authorizeAny(), { onError: (e) => errors.push(e) }),
      {},
      (s) => s.end('ok\n'),
    );
    const port = await listen(server);
    try {
      source.update({ bundles: X509BundleSet.of() });
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /no X\.509 bundle/);
      assert.equal((await outcome(plainConnect(port, { ...pem(w.cliA), ca }))).ok, false);
      source.update({ bundles: w.bundles });
      assert.equal((await outcome(plainConnect(port, { ...pem(w.cliA), ca }))).ok, true);
    } finally {
      await close(server);
    }
  });

  it('closing the server ends its subscription to the source', async () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const server = createHttpsServer(mtlsServer(source, authorizeAny()), {});
    const link2 = createTlsServer(mtlsServer(source, authorizeAny()));
    assert.equal(source.listenerCount, 2);
    await listen(server);
    await close(server);
    link2.close();
    await closed(link2);
    assert.equal(source.listenerCount, 0);
    const plain = https.createServer(mtlsServer(source, authorizeAny()).serverOptions());
    const link = applyServerMode(plain, mtlsServer(source, authorizeAny()));
    assert.equal(source.listenerCount, 1);
    await link[Symbol.asyncDispose]();
    assert.equal(source.listenerCount, 0);
  });
});

describe('clients drop pooled connections when trust is removed', () => {
  async function keepAliveServer(): Promise<{ port: number; server: https.Server }> {
    const server = https.createServer({ ...pem(w.srvA) }, (_req, res) => res.end('ok'));
    return { port: await listen(server), server };
  }

  it('SpiffeHttpsAgent: a removal closes idle sockets (the next request verifies again); an addition keeps them', async () => {
    const { port, server } = await keepAliveServer();
    const source = new MutableX509Source(w.cliA, w.bundles);
    const agent = new SpiffeHttpsAgent(mtlsClient(source, authorizeAny()), { keepAlive: true });
    const get = (): Promise<{ reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            resolve({ reused: req.reusedSocket });
          });
        });
        req.on('error', reject);
      });
    try {
      assert.deepEqual(await get(), { reused: false });
      const c = await TestCA.create({ trustDomain: 'c.org' });
      source.update({ bundles: w.bundles.with(c.x509Bundle()) });
      assert.deepEqual(await get(), { reused: true }, 'control: added trust keeps the pool');
      // a.org's trust removed: the pooled socket to the a.org server must not be reused.
      source.update({ bundles: X509BundleSet.of(w.b.x509Bundle(), c.x509Bundle()) });
      // Refused by OpenSSL now that a.org's root is out of the store (a reused socket would succeed).
      await assert.rejects(get(), { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
    } finally {
      agent.close();
      await close(server);
    }
  });

  it('undici dispatcher: a removal replaces the pool (the next fetch verifies again)', async () => {
    const { port, server } = await keepAliveServer();
    const source = new MutableX509Source(w.cliA, w.bundles);
    const dispatcher = await createUndiciDispatcher(mtlsClient(source, authorizeAny()));
    try {
      assert.equal(await (await fetch(`https://127.0.0.1:${port}/`, { dispatcher })).text(), 'ok');
      source.update({ svid: await w.a.issueX509Svid('spiffe://a.org/client') });
      assert.equal(dispatcher.replacements, 0, 'control: an SVID rotation keeps the pool');
      source.update({ bundles: X509BundleSet.of(w.b.x509Bundle()) });
      assert.equal(dispatcher.replacements, 1);
      await assert.rejects(fetch(`https://127.0.0.1:${port}/`, { dispatcher }), (err: Error) => {
        return (err.cause as { code?: string }).code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
      });
    } finally {
      await dispatcher.close();
      await close(server);
    }
  });
});
