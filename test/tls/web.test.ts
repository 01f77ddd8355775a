// tls-in-node.md §8 case 26 and the two Web PKI modes: mTLS-web clients authenticate servers with
// the Web PKI (normal host name checks, no SPIFFE trust), mTLS-web servers present a Web PKI
// certificate while authenticating SPIFFE clients.
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { InvalidArgumentError, X509SvidVerificationError } from '../../src/errors.js';
import { type RawX509Svid, TestCA } from '../../src/testing/index.js';
import {
  authorizeId,
  authorizeMemberOf,
  connect,
  createHttpsServer,
  mtlsClient,
  mtlsWebClient,
  mtlsWebServer,
  peerIdOf,
  staticX509Source,
} from '../../src/tls/index.js';
import { close, listen, outcome, pem, pems, type World, world } from './helpers.js';

let w: World;
let web: TestCA;
let localhostCert: RawX509Svid;
let uriOnlyCert: RawX509Svid;

before(async () => {
  w = await world();
  // A stand-in for a public CA: its root is not a SPIFFE bundle of anybody.
  web = await TestCA.create({ trustDomain: 'web.test' });
  localhostCert = await web.issueX509SvidUnchecked({ uris: [], dnsNames: ['localhost'] });
  uriOnlyCert = await web.issueX509SvidUnchecked({ uris: ['spiffe://web.test/localhost'] });
});

function webServer(cert: RawX509Svid): tls.Server {
  // Requests and verifies the SDK client's SVID like a SPIFFE-aware web front end would.
  return tls.createServer({ ...pem(cert), requestCert: true, ca: pems(w.a.x509Authorities) }, (s) =>
    s.end(`${s.authorized ? 'client-verified' : 'client-unverified'}\n`),
  );
}

describe('mTLS-web client (§8.26)', () => {
  it('accepts a Web PKI server whose DNS SAN matches, and presents the SVID', async () => {
    const server = webServer(localhostCert);
    const port = await listen(server);
    try {
      const mode = mtlsWebClient(staticX509Source(w.cliA, w.bundles), {
        roots: web.x509Authorities,
      });
      const socket = connect(mode, { host: '127.0.0.1', port, servername: 'localhost' });
      assert.deepEqual(await outcome(socket), { ok: true, data: 'client-verified\n' });
      assert.equal(peerIdOf(socket), undefined, 'a Web PKI server has no SPIFFE ID');
    } finally {
      await close(server);
    }
  });

  it('refuses a wrong host name', async () => {
    const server = webServer(localhostCert);
    const port = await listen(server);
    try {
      const mode = mtlsWebClient(staticX509Source(w.cliA, w.bundles), {
        roots: web.x509Authorities,
      });
      const result = await outcome(
        connect(mode, { host: '127.0.0.1', port, servername: 'other.example' }),
      );
      assert.ok(
        !result.ok &&
          (result.error as { code?: string } | undefined)?.code === 'ERR_TLS_CERT_ALTNAME_INVALID',
      );
    } finally {
      await close(server);
    }
  });

  it('a URI SAN alone does not satisfy the host name check', async () => {
    const server = webServer(uriOnlyCert);
    const port = await listen(server);
    try {
      const mode = mtlsWebClient(staticX509Source(w.cliA, w.bundles), {
        roots: web.x509Authorities,
      });
      const result = await outcome(
        connect(mode, { host: '127.0.0.1', port, servername: 'localhost' }),
      );
      assert.ok(
        !result.ok &&
          (result.error as { code?: string } | undefined)?.code === 'ERR_TLS_CERT_ALTNAME_INVALID',
      );
    } finally {
      await close(server);
    }
  });

  it('SPIFFE trust never leaks in: an SVID-signed server is not trusted even though the source has bundles', async () => {
    const spiffeSigned = await w.a.issueX509SvidUnchecked({
      uris: ['spiffe://a.org/server'],
      dnsNames: ['localhost'],
    });
    const server = webServer(spiffeSigned);
    const port = await listen(server);
    try {
      const pinned = mtlsWebClient(staticX509Source(w.cliA, w.bundles), {
        roots: web.x509Authorities,
      });
      const defaults = mtlsWebClient(staticX509Source(w.cliA, w.bundles));
      for (const mode of [pinned, defaults]) {
        const result = await outcome(
          connect(mode, { host: '127.0.0.1', port, servername: 'localhost' }),
        );
        assert.equal(result.ok, false);
        assert.ok(!(result.error instanceof X509SvidVerificationError));
      }
      // Control: the SPIFFE client mode accepts that server.
      const spiffe = mtlsClient(
        staticX509Source(w.cliA, w.bundles),
        authorizeId('spiffe://a.org/server'),
      );
      assert.equal((await outcome(connect(spiffe, { host: '127.0.0.1', port }))).ok, true);
    } finally {
      await close(server);
    }
  });

  it('refuses an empty roots list (it would trust nothing) and non-certificates', () => {
    const src = staticX509Source(w.cliA, w.bundles);
    assert.throws(() => mtlsWebClient(src, { roots: [] }), InvalidArgumentError);
    assert.throws(() => mtlsWebClient(src, { roots: ['not a pem'] }), InvalidArgumentError);
  });
});

describe('mTLS-web server', () => {
  it('presents the Web PKI certificate and authenticates SPIFFE clients with the bundles', async () => {
    const server = createHttpsServer(
      mtlsWebServer(staticX509Source(undefined, w.bundles), authorizeMemberOf('a.org'), {
        key: localhostCert.privateKey,
        cert: localhostCert.certificates,
      }),
      {},
      (req, res) => res.end(String(peerIdOf(req))),
    );
    const port = await listen(server);
    try {
      const request = (material: { key: string; cert: string }): Promise<string> =>
        new Promise((resolve, reject) => {
          https
            .get(
              {
                host: '127.0.0.1',
                port,
                servername: 'localhost',
                path: '/',
                ...material,
                ca: pems(web.x509Authorities),
                agent: false,
              },
              (res) => {
                let body = '';
                res.on('data', (c: Buffer) => (body += c.toString()));
                res.on('end', () => {
                  resolve(body);
                });
              },
            )
            .on('error', reject);
        });
      // A browser-like client with the Web PKI root and the SVID as client certificate.
      assert.equal(await request(pem(w.cliA)), 'spiffe://a.org/client');
      await assert.rejects(request(pem(w.evilCliA)));
      await assert.rejects(request(pem(w.cliB)));
      // The SDK's SPIFFE client cannot authenticate a Web PKI server, as in go-spiffe: its root
      // is no SPIFFE authority, and even when trusted, its certificate has no URI SAN.
      for (const bundles of [w.bundles, w.bundles.with(web.x509Bundle())]) {
        const sdk = connect(
          mtlsClient(staticX509Source(w.cliA, bundles), authorizeMemberOf('a.org')),
          {
            host: '127.0.0.1',
            port,
          },
        );
        const result = await outcome(sdk);
        assert.equal(result.ok, false);
        if (bundles !== w.bundles) {
          assert.ok(result.error instanceof X509SvidVerificationError);
          assert.match(result.error.message, /no URI SAN/);
        }
      }
    } finally {
      await close(server);
    }
  });

  it('validates the Web PKI certificate argument', () => {
    const src = staticX509Source(undefined, w.bundles);
    assert.throws(
      () => mtlsWebServer(src, authorizeMemberOf('a.org'), undefined as never),
      InvalidArgumentError,
    );
    assert.throws(
      () =>
        mtlsWebServer(src, authorizeMemberOf('a.org'), {
          key: 'nope',
          cert: localhostCert.certificatesPem,
        }),
      InvalidArgumentError,
    );
    assert.throws(
      () =>
        mtlsWebServer(src, authorizeMemberOf('a.org'), {
          key: localhostCert.privateKeyPem,
          cert: [],
        }),
      InvalidArgumentError,
    );
    const ok = mtlsWebServer(src, authorizeMemberOf('a.org'), {
      key: localhostCert.privateKeyPem,
      cert: localhostCert.certificatesPem,
    });
    assert.equal(ok.serverOptions().cert, localhostCert.certificatesPem);
  });
});
