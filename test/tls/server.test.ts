// tls-in-node.md §8 cases 17-20 and 23: the server guard. No http/http2 handler, listener or
// parser may ever see a connection the SDK refused, even when the request (with its body) arrives
// in the same TLS 1.3 flight as the client's Finished message.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { InvalidArgumentError, PeerUnauthorizedError } from '../../src/errors.js';
import {
  applyServerMode,
  authorizeId,
  createHttp2SecureServer,
  createHttpsServer,
  createTlsServer,
  mtlsServer,
  peerIdOf,
  type ServerMode,
  staticX509Source,
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
  tryRenegotiate,
  type Version,
  VERSIONS,
  type World,
  world,
} from './helpers.js';

let w: World;
let ca: string[];
let mode: ServerMode;
const rejects: Error[] = [];

before(async () => {
  w = await world();
  ca = pems([...w.a.x509Authorities, ...w.b.x509Authorities]);
  mode = mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeId('spiffe://a.org/client'), {
    onReject: (err) => rejects.push(err),
  });
});

const BODY = 'SECRET';
const ITERATIONS = 100;
const BATCH = 8;

/** HTTP/1.1 POST with its body, written before the handshake completes. */
const HTTP1_REQUEST = `POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

/** HTTP/2 preface, SETTINGS, HEADERS (POST /x) and DATA with END_STREAM, hand-encoded. */
const HTTP2_REQUEST = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  frame(0x4, 0, 0, Buffer.alloc(0)),
  // HPACK: :method POST (static 3), :scheme https (7), :path / (4), :authority "x" (literal, name 1)
  frame(0x1, 0x4, 1, Buffer.from([0x83, 0x87, 0x84, 0x41, 0x01, 0x78])),
  frame(0x0, 0x1, 1, Buffer.from(BODY)),
]);

interface Recorder {
  handlers: number;
  bodyBytes: number;
  listeners: number;
}

type Kind = 'https' | 'http2' | 'http2+allowHTTP1';

function makeServer(kind: Kind, rec: Recorder): https.Server | http2.Http2SecureServer {
  const handler = (
    req: { on(e: 'data', l: (c: Buffer) => void): unknown; on(e: 'end', l: () => void): unknown },
    res: { end(s: string): unknown },
  ): void => {
    rec.handlers += 1;
    req.on('data', (c: Buffer) => {
      rec.bodyBytes += c.length;
    });
    req.on('end', () => {
      res.end('ok');
    });
  };
  if (kind === 'https') return createHttpsServer(mode, {}, handler);
  return createHttp2SecureServer(mode, { allowHTTP1: kind === 'http2+allowHTTP1' }, handler);
}

/** Sends the early request from a plain client and waits until the connection is gone. */
async function attack(
  port: number,
  version: Version,
  material: { key: string; cert: string },
  h2: boolean,
): Promise<void> {
  const socket = plainConnect(port, {
    ...material,
    ca,
    version,
    ALPNProtocols: h2 ? ['h2'] : ['http/1.1'],
  });
  socket.on('error', () => undefined);
  socket.write(h2 ? HTTP2_REQUEST : HTTP1_REQUEST);
  socket.resume();
  await closed(socket);
}

/** A stock Node client sending a POST with a body (https.request or http2.connect). */
async function stockAttack(
  port: number,
  version: Version,
  material: { key: string; cert: string },
  h2: boolean,
): Promise<void> {
  const tlsOptions = {
    ...material,
    ca,
    minVersion: version,
    maxVersion: version,
    checkServerIdentity: () => undefined,
  };
  if (h2) {
    const session = http2.connect(`https://127.0.0.1:${port}`, tlsOptions);
    session.on('error', () => undefined);
    const req = session.request({ ':method': 'POST', ':path': '/x' });
    req.on('error', () => undefined);
    req.end(BODY);
    req.resume();
    await closed(session);
    return;
  }
  const req = https.request({
    ...tlsOptions,
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/x',
    agent: new https.Agent({ maxCachedSessions: 0 }),
  });
  const done = new Promise<void>((resolve) => {
    req.on('error', () => {
      resolve();
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', resolve);
    });
  });
  req.end(BODY);
  await done;
}

async function validRequest(port: number, version: Version, h2: boolean): Promise<string> {
  const tlsOptions = {
    ...pem(w.cliA),
    ca,
    minVersion: version,
    maxVersion: version,
    checkServerIdentity: () => undefined,
  };
  if (h2) {
    const session = http2.connect(`https://127.0.0.1:${port}`, tlsOptions);
    const req = session.request({ ':method': 'POST', ':path': '/x' });
    req.end(BODY);
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    await once(req, 'end');
    session.close();
    return text;
  }
  return new Promise((resolve, reject) => {
    const req = https.request(
      { ...tlsOptions, host: '127.0.0.1', port, method: 'POST', path: '/x', agent: false },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          resolve(text);
        });
      },
    );
    req.on('error', reject);
    req.end(BODY);
  });
}

for (const kind of ['https', 'http2', 'http2+allowHTTP1'] as const) {
  for (const version of VERSIONS) {
    describe(`${kind} over ${version}: refused clients never reach a handler (§8.17)`, () => {
      it(`control: an authorized client's request and body reach the handler`, async () => {
        const rec: Recorder = { handlers: 0, bodyBytes: 0, listeners: 0 };
        const server = makeServer(kind, rec);
        const port = await listen(server);
        try {
          assert.equal(await validRequest(port, version, kind !== 'https'), 'ok');
          assert.equal(rec.handlers, 1);
          assert.equal(rec.bodyBytes, BODY.length);
          if (kind === 'http2+allowHTTP1') {
            assert.equal(await validRequest(port, version, false), 'ok');
            assert.equal(rec.handlers, 2);
          }
        } finally {
          await close(server);
        }
      });

      it(`${ITERATIONS} early requests from unauthorized and forged clients: 0 handler calls, 0 body bytes`, async () => {
        const rec: Recorder = { handlers: 0, bodyBytes: 0, listeners: 0 };
        const server = makeServer(kind, rec);
        const port = await listen(server);
        const before = rejects.length;
        try {
          for (let i = 0; i < ITERATIONS; i += BATCH) {
            const batch: Promise<void>[] = [];
            for (let j = i; j < Math.min(i + BATCH, ITERATIONS); j++) {
              const material = j % 2 === 0 ? pem(w.cliB) : pem(w.evilCliA);
              const h2 = kind === 'https' ? false : kind === 'http2' ? true : j % 3 !== 0;
              batch.push(
                j % 4 < 2
                  ? attack(port, version, material, h2)
                  : stockAttack(port, version, material, h2),
              );
            }
            await Promise.all(batch);
          }
          // A valid request afterwards proves the server was serving all along.
          assert.equal(await validRequest(port, version, kind === 'http2'), 'ok');
          assert.equal(rec.handlers, 1, 'only the valid request reached the handler');
          assert.equal(rec.bodyBytes, BODY.length);
          assert.equal(
            rejects.length - before,
            ITERATIONS,
            'every attacker was refused by the guard',
          );
        } finally {
          await close(server);
        }
      });
    });
  }
}

describe('listener ordering and request guard (§8.18)', () => {
  it('listeners added after creation (on, prependListener, once) never see a refused socket', async () => {
    const seen: string[] = [];
    const server = createHttpsServer(mode, {}, (_req, res) => res.end('ok'));
    server.on('secureConnection', (s: tls.TLSSocket) => seen.push(`on:${String(peerIdOf(s))}`));
    server.prependListener('secureConnection', (s: tls.TLSSocket) =>
      seen.push(`prepend:${String(peerIdOf(s))}`),
    );
    server.on('request', (req) => seen.push(`request:${String(peerIdOf(req))}`));
    const port = await listen(server);
    try {
      await attack(port, 'TLSv1.3', pem(w.cliB), false);
      await attack(port, 'TLSv1.3', pem(w.evilCliA), false);
      assert.deepEqual(seen, []);
      assert.equal(await validRequest(port, 'TLSv1.3', false), 'ok');
      assert.deepEqual(seen, [
        'prepend:spiffe://a.org/client',
        'on:spiffe://a.org/client',
        'request:spiffe://a.org/client',
      ]);
    } finally {
      await close(server);
    }
  });

  it('a request whose socket the guard never accepted is dropped before the handler', () => {
    let handled = 0;
    const server = createHttpsServer(mode, {}, () => {
      handled += 1;
    });
    let destroyed = 0;
    const fakeSocket = { destroy: () => (destroyed += 1) };
    const delivered = server.emit('request', { socket: fakeSocket }, {});
    assert.equal(delivered, false);
    assert.equal(handled, 0);
    assert.equal(destroyed, 1);
    server.close();
  });

  it('an http2 session whose socket the guard never accepted is destroyed before any listener', () => {
    const server = createHttp2SecureServer(mode, {});
    let sessions = 0;
    server.on('session', () => (sessions += 1));
    let destroyed = 0;
    const delivered = server.emit('session', { socket: {}, destroy: () => (destroyed += 1) });
    assert.equal(delivered, false);
    assert.equal(sessions, 0);
    assert.equal(destroyed, 1);
    server.close();
  });

  it('control: the same emit reaches the handler for a tls-only server (no client auth to guard)', async () => {
    const { tlsServer } = await import('../../src/tls/index.js');
    let handled = 0;
    const server = createHttpsServer(tlsServer(staticX509Source(w.srvA, w.bundles)), {}, () => {
      handled += 1;
    });
    server.emit('request', { socket: { destroy: () => undefined } }, {});
    assert.equal(handled, 1);
    server.close();
  });

  it('a user tls.Server listener passed to createTlsServer never runs for a refused socket', async () => {
    let calls = 0;
    const server = createTlsServer(mode, {}, (s) => {
      calls += 1;
      s.end('hi\n');
    });
    const port = await listen(server);
    try {
      const bad = await outcome(plainConnect(port, { ...pem(w.evilCliA), ca }));
      assert.equal(bad.ok, false);
      assert.equal(calls, 0);
      const good = await outcome(plainConnect(port, { ...pem(w.cliA), ca }));
      assert.deepEqual(good, { ok: true, data: 'hi\n' });
      assert.equal(calls, 1);
    } finally {
      await close(server);
    }
  });
});

describe('a server authorizer that throws (§8.11, server side)', () => {
  it('refuses the client: no uncaughtException, no hang, the error reaches onReject', async () => {
    const boom = new Error('authorizer exploded');
    const seen: Error[] = [];
    let calls = 0;
    const server = createTlsServer(
      mtlsServer(
        staticX509Source(w.srvA, w.bundles),
        () => {
          throw boom;
        },
        { onReject: (err) => seen.push(err) },
      ),
      {},
      (s) => {
        calls += 1;
        s.end('hi\n');
      },
    );
    const port = await listen(server);
    try {
      const uncaught = await catchUncaught(async () => {
        for (const version of VERSIONS) {
          const result = await outcome(plainConnect(port, { ...pem(w.cliA), ca, version }));
          assert.equal(result.ok, false);
        }
      });
      assert.deepEqual(uncaught, []);
      assert.equal(calls, 0);
      assert.equal(seen.length, 2);
      assert.ok(seen[0] instanceof PeerUnauthorizedError);
      assert.equal(seen[0].cause, boom);
    } finally {
      await close(server);
    }
  });

  it('an onReject hook that throws does not break the server', async () => {
    const server = createTlsServer(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeId('spiffe://a.org/client'), {
        onReject: () => {
          throw new Error('hook exploded');
        },
      }),
      {},
      (s) => s.end('hi\n'),
    );
    const port = await listen(server);
    try {
      const uncaught = await catchUncaught(async () => {
        assert.equal((await outcome(plainConnect(port, { ...pem(w.cliB), ca }))).ok, false);
      });
      assert.deepEqual(uncaught, []);
      assert.deepEqual(await outcome(plainConnect(port, { ...pem(w.cliA), ca })), {
        ok: true,
        data: 'hi\n',
      });
    } finally {
      await close(server);
    }
  });
});

describe('client certificates OpenSSL refuses (§8.19)', () => {
  for (const version of VERSIONS) {
    it(`${version}: a client without a certificate is refused during the handshake`, async () => {
      let calls = 0;
      const server = createTlsServer(mode, {}, (s) => {
        calls += 1;
        s.end('hi\n');
      });
      const port = await listen(server);
      try {
        const result = await outcome(plainConnect(port, { ca, version }));
        assert.equal(result.ok, false);
        assert.equal(calls, 0);
      } finally {
        await close(server);
      }
    });
  }

  it('a client certificate whose EKU lacks clientAuth is refused by OpenSSL (INVALID_PURPOSE); clientAuth-only is accepted', async () => {
    const serverAuthOnly = await w.a.issueX509SvidUnchecked({
      uris: ['spiffe://a.org/client'],
      extKeyUsage: ['1.3.6.1.5.5.7.3.1'],
    });
    const clientAuthOnly = await w.a.issueX509SvidUnchecked({
      uris: ['spiffe://a.org/client'],
      extKeyUsage: ['1.3.6.1.5.5.7.3.2'],
    });
    const purposes: string[] = [];
    const before = rejects.length;
    const server = createTlsServer(mode, {}, (s) => s.end('hi\n'));
    server.on('tlsClientError', (_err, socket: tls.TLSSocket) => {
      purposes.push(String(socket.authorizationError));
    });
    const port = await listen(server);
    try {
      for (const version of VERSIONS) {
        const bad = await outcome(
          plainConnect(port, {
            key: serverAuthOnly.privateKeyPem,
            cert: serverAuthOnly.certificatesPem,
            ca,
            version,
          }),
        );
        assert.equal(bad.ok, false);
      }
      // OpenSSL refused them (the guard never ran), with the purpose error.
      assert.equal(rejects.length, before);
      assert.deepEqual(purposes, ['INVALID_PURPOSE', 'INVALID_PURPOSE']);
      const good = await outcome(
        plainConnect(port, {
          key: clientAuthOnly.privateKeyPem,
          cert: clientAuthOnly.certificatesPem,
          ca,
        }),
      );
      assert.deepEqual(good, { ok: true, data: 'hi\n' });
    } finally {
      await close(server);
    }
  });
});

describe('refused clients get no session ticket (§8.20)', () => {
  for (const version of VERSIONS) {
    it(`${version}: with identity-bound resumption on, only the accepted client receives a session`, async () => {
      const bound = mtlsServer(
        staticX509Source(w.srvA, w.bundles),
        authorizeId('spiffe://a.org/client'),
        {
          resumption: 'identity-bound',
        },
      );
      const server = createTlsServer(bound, {}, (s) => {
        s.end('hi\n');
      });
      const port = await listen(server);
      try {
        const sessions = async (material: { key: string; cert: string }): Promise<number> => {
          const socket = plainConnect(port, { ...material, ca, version });
          let count = 0;
          socket.on('session', () => (count += 1));
          socket.on('error', () => undefined);
          socket.resume();
          // Tickets may follow the data, so wait for the end of the connection.
          await closed(socket);
          return count;
        };
        assert.ok((await sessions(pem(w.cliA))) > 0, 'control: the accepted client gets a session');
        assert.equal(await sessions(pem(w.cliB)), 0);
        assert.equal(await sessions(pem(w.evilCliA)), 0);
      } finally {
        await close(server);
      }
    });
  }
});

describe('TLS 1.2 renegotiation is refused (§8.23)', () => {
  async function renegotiate(server: net.Server): Promise<Error | null> {
    const port = await listen(server);
    try {
      const socket = plainConnect(port, { ...pem(w.cliA), ca, version: 'TLSv1.2' });
      socket.on('error', () => undefined);
      await once(socket, 'secureConnect');
      const result = await tryRenegotiate(socket);
      socket.destroy();
      return result;
    } finally {
      await close(server);
    }
  }

  it('control: a plain Node server lets the client renegotiate', async () => {
    const plain = tls.createServer({ ...pem(w.srvA), ca, requestCert: true }, (s) => s.resume());
    assert.equal(await renegotiate(plain), null);
  });

  it('the SDK server refuses it', async () => {
    const server = createTlsServer(mode, {}, (s) => s.resume());
    const err = await renegotiate(server);
    assert.ok(err instanceof Error);
  });
});

describe('applyServerMode on servers built by the application', () => {
  it('guards a plain https.Server created from serverOptions() and disables setSecureContext/addContext', async () => {
    let handled = 0;
    const server = https.createServer(mode.serverOptions(), (_req, res) => {
      handled += 1;
      res.end('ok');
    });
    const link = applyServerMode(server, mode);
    assert.throws(() => {
      server.setSecureContext({});
    }, InvalidArgumentError);
    assert.throws(() => {
      server.addContext('x', {});
    }, InvalidArgumentError);
    assert.throws(() => applyServerMode(server, mode), /already applied/);
    const port = await listen(server);
    try {
      await attack(port, 'TLSv1.3', pem(w.evilCliA), false);
      assert.equal(handled, 0);
      assert.equal(await validRequest(port, 'TLSv1.3', false), 'ok');
      assert.equal(handled, 1);
    } finally {
      await close(server);
      link.close();
    }
  });

  it('protects a server created WITHOUT the SDK options (weak options are replaced)', async () => {
    let handled = 0;
    // No client certificates requested, a foreign trust store, and tickets on.
    const server = https.createServer(
      { ...pem(w.srvA), rejectUnauthorized: false },
      (_req, res) => {
        handled += 1;
        res.end('ok');
      },
    );
    applyServerMode(server, mode);
    const port = await listen(server);
    try {
      await attack(port, 'TLSv1.3', pem(w.cliB), false);
      const noCert = await outcome(plainConnect(port, { ca }));
      assert.equal(noCert.ok, false);
      assert.equal(handled, 0);
      assert.equal(await validRequest(port, 'TLSv1.3', false), 'ok');
    } finally {
      await close(server);
    }
  });

  it('refuses servers with per-SNI contexts and drops ticket keys the application set', () => {
    const withContext = https.createServer(mode.serverOptions());
    withContext.addContext('x.example', mode.serverOptions());
    assert.throws(() => applyServerMode(withContext, mode), /per-SNI contexts/);
    const withKeys = https.createServer({
      ...mode.serverOptions(),
      ticketKeys: Buffer.alloc(48, 1),
    });
    assert.ok((withKeys as unknown as { ticketKeys?: Buffer }).ticketKeys !== undefined);
    applyServerMode(withKeys, mode);
    assert.equal((withKeys as unknown as { ticketKeys?: Buffer }).ticketKeys, undefined);
    withKeys.close();
  });

  it('refuses listening servers, SNICallback and pskCallback servers', async () => {
    const listening = https.createServer(mode.serverOptions());
    await listen(listening);
    assert.throws(() => applyServerMode(listening, mode), /already listening/);
    await close(listening);
    const sni = https.createServer({
      ...mode.serverOptions(),
      SNICallback: (_n, cb) => {
        cb(null);
      },
    });
    assert.throws(() => applyServerMode(sni, mode), /SNICallback/);
    const psk = tls.createServer({ ...mode.serverOptions(), pskCallback: () => null });
    assert.throws(() => applyServerMode(psk, mode), /pskCallback/);
  });
});
