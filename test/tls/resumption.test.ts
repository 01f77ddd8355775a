// tls-in-node.md §8 case 21 and the opt-in identity-bound resumption: a resumed connection is
// never accepted without this process having verified the client's certificate under the current
// trust, and the authorizer runs again on every resumed connection.
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import { TestCA } from '../../src/testing/index.js';
import {
  type Authorizer,
  createTlsServer,
  MutableX509Source,
  mtlsServer,
  peerIdOf,
  type ServerModeOptions,
  staticX509Source,
  type X509MaterialSource,
} from '../../src/tls/index.js';
import {
  close,
  listen,
  pem,
  pems,
  plainConnect,
  serverSeesClientIntermediates,
  type Version,
  VERSIONS,
  type World,
  world,
} from './helpers.js';

let w: World;
let ca: string[];

before(async () => {
  w = await world();
  ca = pems([...w.a.x509Authorities, ...w.b.x509Authorities]);
});

interface Conn {
  ok: boolean;
  /** The peer ID the server attributed the connection to. */
  peer: string | undefined;
  resumed: boolean;
  session: Buffer | undefined;
}

/**
 * One plain client connection (a non-SDK client that resumes if it can): sends "ping", expects
 * "pong\n", and returns whether it was served, whether it resumed, and the last session it got.
 */
async function plainConn(
  port: number,
  version: Version,
  material: { key: string; cert: string },
  session?: Buffer,
): Promise<Conn> {
  const socket = plainConnect(port, {
    ...material,
    ca,
    version,
    ...(session === undefined ? {} : { session }),
  });
  let got: Buffer | undefined;
  let data = '';
  let resumed = false;
  socket.on('session', (s: Buffer) => (got = s));
  socket.on('secureConnect', () => {
    resumed = socket.isSessionReused();
    socket.write('ping');
  });
  socket.on('data', (c: Buffer) => {
    data += c.toString();
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('close', resolve));
  const m = /^pong (\S+)\n$/.exec(data);
  return { ok: m !== null, peer: m?.[1], resumed, session: got };
}

function server(
  source: X509MaterialSource,
  authorizer: Authorizer,
  options: ServerModeOptions,
): { server: tls.Server; rejects: Error[]; calls: { n: number } } {
  const rejects: Error[] = [];
  const calls = { n: 0 };
  const s = createTlsServer(
    mtlsServer(
      source,
      (id, chains) => {
        calls.n += 1;
        return authorizer(id, chains);
      },
      { ...options, onReject: (e) => rejects.push(e) },
    ),
    {},
    (socket) => {
      socket.once('data', () => socket.end(`pong ${String(peerIdOf(socket))}\n`));
    },
  );
  return { server: s, rejects, calls };
}

const allowA: Authorizer = (id) => id.trustDomain.name === 'a.org';

for (const version of VERSIONS) {
  describe(`${version}: no resumption by default (§8.21)`, () => {
    it('a client offering a session gets a full handshake and the authorizer runs every time', async () => {
      const { server: s, calls } = server(staticX509Source(w.srvA, w.bundles), allowA, {});
      const port = await listen(s);
      try {
        const first = await plainConn(port, version, pem(w.cliA));
        assert.equal(first.ok, true);
        const second = await plainConn(port, version, pem(w.cliA), first.session);
        assert.deepEqual([second.ok, second.resumed], [true, false]);
        assert.equal(calls.n, 2);
      } finally {
        await close(s);
      }
    });

    if (version === 'TLSv1.2') {
      it('a session store added by the application resumes at the OpenSSL level, and the guard refuses it', async () => {
        const store = new Map<string, Buffer>();
        const addStore = (srv: tls.Server): void => {
          srv.on('newSession', (id: Buffer, data: Buffer, cb: () => void) => {
            store.set(id.toString('hex'), data);
            cb();
          });
          srv.on(
            'resumeSession',
            (id: Buffer, cb: (err: Error | null, data: Buffer | null) => void) => {
              cb(null, store.get(id.toString('hex')) ?? null);
            },
          );
        };
        // Control: the same store makes a plain Node server resume.
        const plain = tls.createServer({ ...pem(w.srvA), ca, requestCert: true }, (sock) => {
          sock.once('data', () => sock.end('pong plain\n'));
        });
        addStore(plain);
        const plainPort = await listen(plain);
        try {
          const first = await plainConn(plainPort, version, pem(w.cliA));
          const second = await plainConn(plainPort, version, pem(w.cliA), first.session);
          assert.deepEqual([second.ok, second.resumed], [true, true]);
        } finally {
          await close(plain);
        }

        store.clear();
        const { server: s, rejects } = server(staticX509Source(w.srvA, w.bundles), allowA, {});
        addStore(s);
        const port = await listen(s);
        try {
          const first = await plainConn(port, version, pem(w.cliA));
          assert.equal(first.ok, true);
          const second = await plainConn(port, version, pem(w.cliA), first.session);
          assert.equal(second.resumed, true, 'OpenSSL resumed the session');
          assert.equal(second.ok, false, 'the guard refused the resumed connection');
          assert.match(rejects[0]?.message ?? '', /resumption is disabled/);
        } finally {
          await close(s);
        }
      });
    }
  });

  describe(`${version}: identity-bound resumption`, () => {
    it('resumes, re-runs the authorizer, and a revoked authorization refuses the resumed connection', async () => {
      let allow = true;
      const {
        server: s,
        calls,
        rejects,
      } = server(
        staticX509Source(w.srvA, w.bundles),
        (id) => allow && id.trustDomain.name === 'a.org',
        { resumption: 'identity-bound' },
      );
      const port = await listen(s);
      try {
        const first = await plainConn(port, version, pem(w.cliA));
        assert.equal(first.ok, true);
        assert.ok(first.session !== undefined);
        const second = await plainConn(port, version, pem(w.cliA), first.session);
        assert.deepEqual([second.ok, second.resumed], [true, true]);
        assert.equal(calls.n, 2, 'the authorizer ran on the resumed connection too');
        allow = false;
        const third = await plainConn(port, version, pem(w.cliA), second.session ?? first.session);
        assert.deepEqual([third.ok, third.resumed], [false, true]);
        assert.equal(rejects.length, 1);
      } finally {
        await close(s);
      }
    });

    it('a client whose chain has an intermediate resumes (the verified identity is cached, not the chain)', async () => {
      const inter = await w.a.createIntermediate();
      const svid = await w.a.issueX509Svid('spiffe://a.org/inter-client', { issuer: inter });
      const { server: s } = server(staticX509Source(w.srvA, w.bundles), allowA, {
        resumption: 'identity-bound',
      });
      const port = await listen(s);
      try {
        const first = await plainConn(port, version, pem(svid));
        if (!(await serverSeesClientIntermediates())) {
          // This Node version hides the client's intermediates from servers (nodejs/node#65579):
          // the full handshake is refused, so there is nothing to resume.
          assert.equal(first.ok, false);
          return;
        }
        const second = await plainConn(port, version, pem(svid), first.session);
        assert.deepEqual([second.ok, second.resumed], [true, true]);
      } finally {
        await close(s);
      }
    });

    it('after a rotation the old session is not resumed (new ticket keys, new session ID context)', async () => {
      const source = new MutableX509Source(w.srvA, w.bundles);
      const { server: s, calls } = server(source, allowA, { resumption: 'identity-bound' });
      const port = await listen(s);
      try {
        const first = await plainConn(port, version, pem(w.cliA));
        const c = await TestCA.create({ trustDomain: 'c.org' });
        source.update({ bundles: w.bundles.with(c.x509Bundle()) });
        const second = await plainConn(port, version, pem(w.cliA), first.session);
        assert.deepEqual([second.ok, second.resumed], [true, false]);
        assert.equal(calls.n, 2);
      } finally {
        await close(s);
      }
    });

    it('a session resumed by OpenSSL after the trust changed (rotation not yet applied) is refused', async () => {
      // A source without change notification: the server learns about the new bundles only when
      // the next connection arrives, after OpenSSL already resumed it with the old context.
      let bundles = w.bundles;
      const source: X509MaterialSource = {
        getX509Svid: (): X509Svid => w.srvA,
        getX509BundleSet: () => bundles,
        getX509BundleForTrustDomain: (td) => bundles.getX509BundleForTrustDomain(td),
      };
      const { server: s, rejects } = server(source, allowA, { resumption: 'identity-bound' });
      const port = await listen(s);
      try {
        const first = await plainConn(port, version, pem(w.cliA));
        const second = await plainConn(port, version, pem(w.cliA), first.session);
        assert.deepEqual([second.ok, second.resumed], [true, true]); // control
        // Same authorities for a.org, plus b.org's root added to a.org's bundle: the trust changed.
        bundles = X509BundleSet.of(
          X509Bundle.fromAuthorities(w.a.trustDomain, [
            ...w.a.x509Authorities,
            ...w.b.x509Authorities,
          ]),
          w.b.x509Bundle(),
        );
        const third = await plainConn(port, version, pem(w.cliA), second.session ?? first.session);
        assert.deepEqual([third.ok, third.resumed], [false, true]);
        assert.match(rejects[0]?.message ?? '', /not verified under the current trust bundles/);
        // The next full handshake is verified against the new bundles and accepted.
        const fourth = await plainConn(port, version, pem(w.cliA));
        assert.deepEqual([fourth.ok, fourth.resumed], [true, false]);
      } finally {
        await close(s);
      }
    });

    it('a resumed connection is attributed to the identity verified at the full handshake', async () => {
      const { server: s } = server(staticX509Source(w.srvA, w.bundles), allowA, {
        resumption: 'identity-bound',
      });
      const port = await listen(s);
      try {
        const good = await plainConn(port, version, pem(w.cliA));
        assert.equal(good.peer, 'spiffe://a.org/client');
        // No certificate travels on resumption: whoever holds the session secret continues the
        // session that a.org/client authenticated (like holding its key), and is treated as it.
        // The certificate configured on this client (b.org's) is never looked at.
        const other = await plainConn(port, version, pem(w.cliB), good.session);
        assert.deepEqual(
          [other.ok, other.resumed, other.peer],
          [true, true, 'spiffe://a.org/client'],
        );
        // Without the session, b.org's client is refused by the authorizer.
        const fresh = await plainConn(port, version, pem(w.cliB));
        assert.equal(fresh.ok, false);
      } finally {
        await close(s);
      }
    });
  });
}

describe('resumption options', () => {
  it('sessionTimeout needs identity-bound resumption; unknown policies are refused', () => {
    const src = staticX509Source(w.srvA, w.bundles);
    assert.throws(() => mtlsServer(src, allowA, { sessionTimeout: 60 }), /identity-bound/);
    assert.throws(
      () => mtlsServer(src, allowA, { resumption: 'always' as unknown as 'none' }),
      /resumption must be/,
    );
    const opts = mtlsServer(src, allowA, {
      resumption: 'identity-bound',
      sessionTimeout: 60,
    }).serverOptions();
    assert.equal(opts.sessionTimeout, 60);
  });

  it('the server options carry the policy: NO_TICKET by default, tickets with identity-bound', () => {
    const src = staticX509Source(w.srvA, w.bundles);
    const none = mtlsServer(src, allowA).serverOptions();
    const bound = mtlsServer(src, allowA, { resumption: 'identity-bound' }).serverOptions();
    const { SSL_OP_NO_TICKET, SSL_OP_NO_RENEGOTIATION } = constants;
    assert.notEqual((none.secureOptions ?? 0) & SSL_OP_NO_TICKET, 0);
    assert.equal((bound.secureOptions ?? 0) & SSL_OP_NO_TICKET, 0);
    assert.notEqual((none.secureOptions ?? 0) & SSL_OP_NO_RENEGOTIATION, 0);
    assert.notEqual((bound.secureOptions ?? 0) & SSL_OP_NO_RENEGOTIATION, 0);
  });
});
