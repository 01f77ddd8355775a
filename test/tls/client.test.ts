// tls-in-node.md §8 cases 10-16: the client side. The server is verified inside
// checkServerIdentity, before 'secureConnect' and before any byte the application wrote early
// leaves the process; sessions are never resumed; agents never share sockets across authorizers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { fetch } from 'undici';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import {
  InvalidArgumentError,
  PeerUnauthorizedError,
  TlsConfigurationError,
  X509SvidVerificationError,
} from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import {
  type Authorizer,
  authorizeAny,
  authorizeId,
  type ClientMode,
  connect,
  createHttp2SecureServer,
  createUndiciDispatcher,
  http2Connect,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  SpiffeHttpsAgent,
  staticX509Source,
  tlsClient,
} from '../../src/tls/index.js';
import {
  catchUncaught,
  close,
  closed,
  listen,
  outcome,
  pem,
  pems,
  plainConnect,
  VERSIONS,
  withEnv,
  type World,
  world,
} from './helpers.js';

let w: World;
let ca: string[];

before(async () => {
  w = await world();
  ca = pems([...w.a.x509Authorities, ...w.b.x509Authorities]);
});

/** A plain TLS server that records the application bytes it received per connection. */
async function recordingServer(
  material: { key: string; cert: string },
  extra: tls.TlsOptions & { replyAfterData?: boolean } = {},
): Promise<{
  port: number;
  server: tls.Server;
  received: () => string;
  rawClosed: () => Promise<void>;
}> {
  let received = '';
  const rawDone: Promise<void>[] = [];
  const { replyAfterData, ...tlsOptions } = extra;
  const server = tls.createServer({ ...material, ...tlsOptions }, (s) => {
    s.on('data', (c: Buffer) => {
      received += c.toString();
      if (replyAfterData === true) s.write('hello\n');
    });
    s.on('error', () => undefined);
    if (replyAfterData !== true) s.write('hello\n');
  });
  server.on('connection', (raw: net.Socket) => rawDone.push(closed(raw)));
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  return {
    port,
    server,
    received: () => received,
    rawClosed: async () => {
      await Promise.all(rawDone);
    },
  };
}

function clientMode(authorizer: Authorizer): ClientMode {
  return mtlsClient(staticX509Source(w.cliA, w.bundles), authorizer);
}

describe('authorizer decisions on the client (§8.10, §8.11)', () => {
  for (const version of VERSIONS) {
    it(`${version}: a denied server receives none of the bytes written before the handshake`, async () => {
      const srv = await recordingServer(pem(w.srvA), {
        minVersion: version,
        maxVersion: version,
        replyAfterData: true,
      });
      try {
        const denied = connect(clientMode(authorizeId('spiffe://a.org/billing')), {
          host: '127.0.0.1',
          port: srv.port,
        });
        denied.write('SECRET-denied');
        const bad = await outcome(denied);
        assert.equal(bad.ok, false);
        assert.ok(bad.error instanceof PeerUnauthorizedError);
        assert.equal(bad.error.peerId, 'spiffe://a.org/server');
        await srv.rawClosed();
        assert.equal(srv.received(), '');

        // Control: the same early write reaches an authorized server.
        const allowed = connect(clientMode(authorizeId('spiffe://a.org/server')), {
          host: '127.0.0.1',
          port: srv.port,
        });
        allowed.write('SECRET-allowed');
        assert.deepEqual(await outcome(allowed), { ok: true, data: 'hello\n' });
        await srv.rawClosed();
        assert.equal(srv.received(), 'SECRET-allowed');
      } finally {
        await close(srv.server);
      }
    });
  }

  it('an authorizer that throws refuses the connection: no uncaughtException, no hang', async () => {
    const srv = await recordingServer(pem(w.srvA));
    try {
      const boom = new Error('authorizer exploded');
      let result: Awaited<ReturnType<typeof outcome>> | undefined;
      const uncaught = await catchUncaught(async () => {
        const socket = connect(
          clientMode(() => {
            throw boom;
          }),
          { host: '127.0.0.1', port: srv.port },
        );
        result = await outcome(socket);
      });
      assert.deepEqual(uncaught, []);
      assert.ok(
        result !== undefined && !result.ok && result.error instanceof PeerUnauthorizedError,
      );
      assert.equal(result.error.cause, boom);
    } finally {
      await close(srv.server);
    }
  });

  it('an asynchronous authorizer (returning a Promise) refuses the connection', async () => {
    const srv = await recordingServer(pem(w.srvA));
    try {
      const socket = connect(clientMode((() => Promise.resolve(true)) as unknown as Authorizer), {
        host: '127.0.0.1',
        port: srv.port,
      });
      const result = await outcome(socket);
      assert.ok(!result.ok && result.error instanceof PeerUnauthorizedError);
      assert.match(result.error.message, /returned a Promise/);
    } finally {
      await close(srv.server);
    }
  });
});

describe('NODE_TLS_REJECT_UNAUTHORIZED=0 (§8.12)', () => {
  it('a forged server is still refused (a plain client would accept it)', async () => {
    const srv = await recordingServer(pem(w.evilSrvA));
    try {
      await withEnv('NODE_TLS_REJECT_UNAUTHORIZED', '0', async () => {
        const warn = process.listeners('warning');
        process.removeAllListeners('warning');
        try {
          // Control: the variable is in effect for a plain client without rejectUnauthorized.
          const plain = tls.connect({
            host: '127.0.0.1',
            port: srv.port,
            ca,
            checkServerIdentity: () => new Error('nope'),
          });
          assert.deepEqual(await outcome(plain), { ok: true, data: 'hello\n' });
          const sdk = connect(clientMode(authorizeAny()), { host: '127.0.0.1', port: srv.port });
          const result = await outcome(sdk);
          assert.ok(!result.ok && result.error instanceof X509SvidVerificationError);
        } finally {
          for (const l of warn) process.on('warning', l);
        }
      });
    } finally {
      await close(srv.server);
    }
  });
});

describe('options that would weaken verification are refused (§8.13)', () => {
  const weakening: readonly [string, unknown][] = [
    ['rejectUnauthorized', false],
    ['checkServerIdentity', () => undefined],
    ['ca', 'PEM'],
    ['cert', 'PEM'],
    ['key', 'PEM'],
    ['pfx', 'PFX'],
    ['session', Buffer.alloc(8)],
    ['secureContext', {}],
    ['pskCallback', () => null],
    ['secureProtocol', 'TLSv1_method'],
    ['minVersion', 'TLSv1'],
  ];

  for (const [key, value] of weakening) {
    it(`"${key}" is refused by connect, tlsOptions, httpsOptions, http2Options and SpiffeHttpsAgent`, () => {
      const mode = clientMode(authorizeAny());
      const opts = { host: '127.0.0.1', port: 1, [key]: value };
      const pattern = new RegExp(`option "${key}`);
      assert.throws(
        () => connect(mode, opts),
        (e) => e instanceof InvalidArgumentError && pattern.test(e.message),
      );
      assert.throws(() => mode.tlsOptions(opts), pattern);
      assert.throws(() => mode.httpsOptions(opts), pattern);
      assert.throws(() => mode.http2Options(opts), pattern);
      assert.throws(() => new SpiffeHttpsAgent(mode, opts), pattern);
    });
  }

  it('control: rejectUnauthorized: true and ordinary connection options are accepted', () => {
    const mode = clientMode(authorizeAny());
    const opts = mode.tlsOptions({
      rejectUnauthorized: true,
      servername: 'x',
      ALPNProtocols: ['h2'],
    });
    assert.equal(opts.rejectUnauthorized, true);
    assert.equal(opts.servername, 'x');
    assert.equal(opts.session, undefined);
    assert.ok(
      'session' in opts,
      'session: undefined is explicit (it overrides an https.Agent session cache)',
    );
    assert.equal(typeof opts.checkServerIdentity, 'function');
    assert.ok(opts.secureContext instanceof Object);
  });

  it('a request-level option through the agent is refused as the request error', async () => {
    const agent = new SpiffeHttpsAgent(clientMode(authorizeAny()));
    try {
      const req = https.request({ host: '127.0.0.1', port: 1, agent, rejectUnauthorized: false });
      const [err] = (await once(req, 'error')) as [Error];
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /rejectUnauthorized: false/);
    } finally {
      agent.close();
    }
  });

  it('raw tlsOptions work with plain tls.connect and verify the server', async () => {
    const srv = await recordingServer(pem(w.evilSrvA));
    try {
      const opts = clientMode(authorizeAny()).tlsOptions({ host: '127.0.0.1', port: srv.port });
      const bad = await outcome(tls.connect(opts));
      assert.ok(!bad.ok && bad.error instanceof X509SvidVerificationError);
      const good = await recordingServer(pem(w.srvA));
      try {
        const ok = await outcome(tls.connect({ ...opts, port: good.port }));
        assert.deepEqual(ok, { ok: true, data: 'hello\n' });
      } finally {
        await close(good.server);
      }
    } finally {
      await close(srv.server);
    }
  });
});

describe('client-side TLS session resumption (§8.14)', () => {
  it('control: a plain client resumes against this server', async () => {
    const srv = await recordingServer(pem(w.srvA), { maxVersion: 'TLSv1.2' });
    try {
      const first = plainConnect(srv.port, { ca });
      const session = await new Promise<Buffer>((resolve) => first.once('session', resolve));
      first.destroy();
      const second = plainConnect(srv.port, { ca, session });
      await once(second, 'secureConnect');
      assert.equal(second.isSessionReused(), true);
      second.destroy();
    } finally {
      await close(srv.server);
    }
  });

  for (const version of VERSIONS) {
    it(`${version}: connect, httpsOptions and the agent run the authorizer on every connection and never resume`, async () => {
      let calls = 0;
      const mode = clientMode((id) => {
        calls += 1;
        return id.toString() === 'spiffe://a.org/server';
      });
      const server = https.createServer(
        { ...pem(w.srvA), minVersion: version, maxVersion: version },
        (_req, res) => {
          res.setHeader('connection', 'close');
          res.end('ok');
        },
      );
      const resumed: boolean[] = [];
      server.on('secureConnection', (s: tls.TLSSocket) => resumed.push(s.isSessionReused()));
      const port = await listen(server);
      const agent = new SpiffeHttpsAgent(mode);
      try {
        for (let i = 0; i < 3; i++) {
          const s = connect(mode, { host: '127.0.0.1', port });
          await once(s, 'secureConnect');
          assert.equal(s.isSessionReused(), false);
          s.end(); // after the server has read our Finished
          await closed(s);
        }
        const get = (options: https.RequestOptions): Promise<number> =>
          new Promise((resolve, reject) => {
            https
              .get({ ...options, host: '127.0.0.1', port, path: '/' }, (res) => {
                res.resume();
                res.on('end', () => {
                  resolve(res.statusCode ?? 0);
                });
              })
              .on('error', reject);
          });
        for (let i = 0; i < 3; i++) assert.equal(await get(mode.httpsOptions()), 200);
        for (let i = 0; i < 3; i++) assert.equal(await get({ agent }), 200);
        assert.equal(calls, 9);
        assert.equal(resumed.length, 9);
        assert.ok(resumed.every((r) => !r));
      } finally {
        agent.close();
        await close(server);
      }
    });
  }

  it('tlsOptions used with a plain https.Agent (which caches sessions) never resume', async () => {
    let calls = 0;
    const mode = clientMode((id) => {
      calls += 1;
      return id.toString() === 'spiffe://a.org/server';
    });
    const server = https.createServer({ ...pem(w.srvA), maxVersion: 'TLSv1.2' }, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    });
    const resumed: boolean[] = [];
    server.on('secureConnection', (s: tls.TLSSocket) => resumed.push(s.isSessionReused()));
    const port = await listen(server);
    const agent = new https.Agent({ keepAlive: false }); // caches up to 100 sessions
    const get = (): Promise<void> =>
      new Promise((resolve, reject) => {
        https
          .get({ ...mode.tlsOptions(), host: '127.0.0.1', port, path: '/', agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      });
    try {
      for (let i = 0; i < 3; i++) await get();
      assert.equal(calls, 3);
      assert.deepEqual(resumed, [false, false, false]);
    } finally {
      agent.destroy();
      await close(server);
    }
  });

  it('fails closed if a session was resumed anyway', async () => {
    const srv = await recordingServer(pem(w.srvA));
    const proto = tls.TLSSocket.prototype as { isSessionReused: () => boolean };
    const original = proto.isSessionReused;
    proto.isSessionReused = () => true;
    try {
      let secureConnect = 0;
      const socket = connect(
        clientMode(authorizeAny()),
        { host: '127.0.0.1', port: srv.port },
        () => {
          secureConnect += 1;
        },
      );
      const result = await outcome(socket);
      assert.ok(!result.ok && result.error instanceof X509SvidVerificationError);
      assert.match(result.error.message, /resumed/);
      assert.equal(secureConnect, 0, "no 'secureConnect' listener runs");
    } finally {
      proto.isSessionReused = original;
      await close(srv.server);
    }
  });
});

describe('agent isolation (§8.15)', () => {
  it('two agents with different authorizers share no sockets or sessions', async () => {
    const server = https.createServer({ ...pem(w.srvA) }, (_req, res) => res.end('ok'));
    const port = await listen(server);
    const agentA = new SpiffeHttpsAgent(clientMode(authorizeId('spiffe://a.org/server')), {
      keepAlive: true,
    });
    const agentB = new SpiffeHttpsAgent(clientMode(authorizeId('spiffe://a.org/billing')), {
      keepAlive: true,
    });
    const get = (agent: https.Agent): Promise<{ reused: boolean; peer: string | undefined }> =>
      new Promise((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          const peer = peerIdOf(res)?.toString();
          res.resume();
          res.on('end', () => {
            resolve({ reused: req.reusedSocket, peer });
          });
        });
        req.on('error', reject);
      });
    try {
      assert.deepEqual(await get(agentA), { reused: false, peer: 'spiffe://a.org/server' });
      assert.deepEqual(await get(agentA), { reused: true, peer: 'spiffe://a.org/server' }); // control
      await assert.rejects(get(agentB), PeerUnauthorizedError);
    } finally {
      agentA.close();
      agentB.close();
      await close(server);
    }
  });

  it('requests made with httpsOptions never use https.globalAgent', async () => {
    const server = https.createServer({ ...pem(w.srvA) }, (_req, res) => res.end('ok'));
    const port = await listen(server);
    // addRequest is how http.ClientRequest hands itself to an agent (not in @types/node).
    const globalAgent = https.globalAgent as https.Agent & {
      addRequest: (...args: unknown[]) => void;
    };
    const addRequest = globalAgent.addRequest;
    let global = 0;
    globalAgent.addRequest = function (this: https.Agent, ...args: unknown[]) {
      global += 1;
      Reflect.apply(addRequest, this, args);
    };
    try {
      const req = https.get({
        ...clientMode(authorizeAny()).httpsOptions(),
        host: '127.0.0.1',
        port,
        path: '/',
      });
      assert.equal((req as unknown as { agent: unknown }).agent, undefined);
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      res.resume();
      await once(res, 'end');
      assert.equal(global, 0);
      // Control: a plain request does go through the global agent.
      const plain = https.get({
        host: '127.0.0.1',
        port,
        path: '/',
        ca,
        checkServerIdentity: () => undefined,
      });
      const [pres] = (await once(plain, 'response')) as [import('node:http').IncomingMessage];
      pres.resume();
      await once(pres, 'end');
      assert.equal(global, 1);
    } finally {
      globalAgent.addRequest = addRequest;
      https.globalAgent.destroy();
      await close(server);
    }
  });

  it('undici: every new connection is verified and none resumes', async () => {
    let calls = 0;
    const server = https.createServer({ ...pem(w.srvA) }, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    });
    const resumed: boolean[] = [];
    server.on('secureConnection', (s: tls.TLSSocket) => resumed.push(s.isSessionReused()));
    const port = await listen(server);
    const dispatcher = await createUndiciDispatcher(
      clientMode((id) => {
        calls += 1;
        return id.toString() === 'spiffe://a.org/server';
      }),
    );
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`https://127.0.0.1:${port}/`, { dispatcher });
        assert.equal(await res.text(), 'ok');
      }
      assert.equal(calls, 3);
      assert.deepEqual(resumed, [false, false, false]);
      const denied = await createUndiciDispatcher(
        clientMode(authorizeId('spiffe://a.org/billing')),
      );
      try {
        await assert.rejects(
          fetch(`https://127.0.0.1:${port}/`, { dispatcher: denied }),
          (err: Error) => {
            return err.cause instanceof PeerUnauthorizedError;
          },
        );
      } finally {
        await denied.close();
      }
    } finally {
      await dispatcher.close();
      await close(server);
    }
  });
});

describe('trust material for OpenSSL (§8.16)', () => {
  it('an empty bundle set or bundles without authorities are refused, never the public roots', () => {
    const empty = mtlsClient(staticX509Source(w.cliA, X509BundleSet.of()), authorizeAny());
    assert.throws(() => connect(empty, { host: '127.0.0.1', port: 1 }), TlsConfigurationError);
    const noAuthorities = tlsClient(
      staticX509Source(undefined, X509Bundle.empty(TrustDomain.parse('a.org'))),
      authorizeAny(),
    );
    assert.throws(
      () => connect(noAuthorities, { host: '127.0.0.1', port: 1 }),
      /hold no authority/,
    );
    assert.throws(
      () =>
        mtlsServer(staticX509Source(w.srvA, X509BundleSet.of()), authorizeAny()).serverOptions(),
      TlsConfigurationError,
    );
  });

  it('a bundle parsed from DER (the Workload API encoding) is handed to OpenSSL as PEM', async () => {
    const der = new Uint8Array(Buffer.concat(w.a.x509Authorities.map((c) => c.raw)));
    const bundle = X509Bundle.parseRaw(TrustDomain.parse('a.org'), der);
    const srv = await recordingServer(pem(w.srvA));
    try {
      const mode = tlsClient(staticX509Source(undefined, bundle), authorizeAny());
      const ctxOpts = mtlsServer(staticX509Source(w.srvA, bundle), authorizeAny()).serverOptions();
      assert.ok(
        Array.isArray(ctxOpts.ca) &&
          ctxOpts.ca.every((c) => String(c).startsWith('-----BEGIN CERTIFICATE-----')),
      );
      assert.deepEqual(await outcome(connect(mode, { host: '127.0.0.1', port: srv.port })), {
        ok: true,
        data: 'hello\n',
      });
    } finally {
      await close(srv.server);
    }
  });
});

describe('http2 client', () => {
  it('http2Connect verifies the server and records its ID on the session', async () => {
    const server = createHttp2SecureServer(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny()),
      {},
      (req, res) => res.end(String(peerIdOf(req))),
    );
    const port = await listen(server);
    try {
      const session = http2Connect(
        clientMode(authorizeId('spiffe://a.org/server')),
        `https://127.0.0.1:${port}`,
      );
      const req = session.request({ ':path': '/' });
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      await once(req, 'end');
      assert.equal(body, 'spiffe://a.org/client');
      assert.equal(peerIdOf(session)?.toString(), 'spiffe://a.org/server');
      session.close();
      const denied = http2Connect(
        clientMode(authorizeId('spiffe://a.org/billing')),
        `https://127.0.0.1:${port}`,
      );
      const [err] = (await once(denied, 'error')) as [Error];
      assert.ok(err instanceof PeerUnauthorizedError);
    } finally {
      await close(server);
    }
  });
});

describe('undici connector', () => {
  it('only https: origins are reached through a SPIFFE mode', async () => {
    const { undiciConnector } = await import('../../src/tls/index.js');
    const connector = undiciConnector(clientMode(authorizeAny()));
    const err = await new Promise<Error | null>((resolve) => {
      connector({ hostname: '127.0.0.1', protocol: 'http:', port: '1' }, (...args) => {
        resolve(args[0]);
      });
    });
    assert.ok(err instanceof InvalidArgumentError);
    assert.match(err.message, /only https:/);
    assert.throws(
      () => undiciConnector(clientMode(authorizeAny()), { connectTimeout: 0 }),
      InvalidArgumentError,
    );
    await assert.rejects(
      createUndiciDispatcher(clientMode(authorizeAny()), { agent: { connect: () => undefined } }),
      /agent option "connect" is refused/,
    );
  });
});
