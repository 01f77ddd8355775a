// The gRPC client side over real grpc-js clients and servers on loopback: the server's X509-SVID
// is verified against the bundle of its own trust domain and authorized (a cross-trust-domain
// forgery is refused while both trust domains are trusted), the mTLS-web credentials check the
// Web PKI host name, and unusable arguments are refused.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ServerCredentials, status } from '@grpc/grpc-js';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import {
  createGrpcTlsServer,
  InvalidArgumentError,
  mtlsClientCredentials,
  mtlsServerCredentials,
  mtlsWebClientCredentials,
  mtlsWebServerCredentials,
  tlsClientCredentials,
  TlsConfigurationError,
} from '../../src/grpc/index.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import { type RawX509Svid, TestCA } from '../../src/testing/index.js';
import {
  type Authorizer,
  authorizeAny,
  authorizeId,
  MutableX509Source,
  mtlsServer,
  staticX509Source,
  type X509MaterialSource,
} from '../../src/tls/index.js';
import { pem, withEnv, type World, world } from '../tls/helpers.js';
import {
  assertOk,
  assertRefused,
  bound,
  CLIENT_ID,
  client,
  hello,
  type Running,
  SERVER_ID,
  using,
} from './helpers.js';

let w: World;

before(async () => {
  w = await world();
});

/** A source with `svid`, trusting a.org and b.org. */
function source(svid: X509Svid): X509MaterialSource {
  return staticX509Source(svid, w.bundles);
}

/** A plain grpc-js server (no SDK) presenting `svid`; it asks for no client certificate. */
function plainServer(svid: RawX509Svid | X509Svid): Promise<Running> {
  const { key, cert } = pem(svid);
  return bound(
    ServerCredentials.createSsl(
      null,
      [{ private_key: Buffer.from(key), cert_chain: Buffer.from(cert) }],
      false,
    ),
  );
}

describe('client: mtlsClientCredentials / tlsClientCredentials', () => {
  it('refuses a server its authorizer denies (UNAVAILABLE), accepts the allowed one', async () => {
    const running = await bound(mtlsServerCredentials(source(w.srvA), authorizeAny()));
    await using(running, async (connect) => {
      const wrong = connect(
        client(
          running.port,
          mtlsClientCredentials(source(w.cliA), authorizeId('spiffe://a.org/db')),
        ),
      );
      assertRefused(await hello(wrong), status.UNAVAILABLE);
      assert.equal(running.recorder.invocations, 0);
      const right = connect(
        client(running.port, mtlsClientCredentials(source(w.cliA), authorizeId(SERVER_ID))),
      );
      assertOk(await hello(right));
    });
  });

  it('refuses a forged server (a.org ID signed by b.org) while trusting both trust domains', async () => {
    const evil = await plainServer(w.evilSrvA);
    await using(evil, async (connect) => {
      const c = connect(
        client(
          evil.port,
          tlsClientCredentials(staticX509Source(undefined, w.bundles), authorizeId(SERVER_ID)),
        ),
      );
      assertRefused(await hello(c), status.UNAVAILABLE);
      assert.equal(evil.recorder.invocations, 0);
    });
    // Positive control: the same kind of plain server with the genuine SVID.
    const genuine = await plainServer(w.srvA);
    await using(genuine, async (connect) => {
      const c = connect(
        client(
          genuine.port,
          tlsClientCredentials(staticX509Source(undefined, w.bundles), authorizeId(SERVER_ID)),
        ),
      );
      assertOk(await hello(c));
    });
  });

  it('still refuses the forged server with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const evil = await plainServer(w.evilSrvA);
    await using(evil, async (connect) => {
      await withEnv('NODE_TLS_REJECT_UNAUTHORIZED', '0', async () => {
        const c = connect(
          client(evil.port, mtlsClientCredentials(source(w.cliA), authorizeId(SERVER_ID))),
        );
        assertRefused(await hello(c), status.UNAVAILABLE);
      });
      assert.equal(evil.recorder.invocations, 0);
    });
  });

  it('verifies a server chain with intermediates, and the authorizer sees the chain', async () => {
    const inter = await w.a.createIntermediate();
    const chainedServer = await w.a.issueX509Svid(SERVER_ID, { issuer: inter });
    const running = await plainServer(chainedServer);
    await using(running, async (connect) => {
      let chainLength = 0;
      const c = connect(
        client(
          running.port,
          mtlsClientCredentials(source(w.cliA), (id, chains) => {
            chainLength = chains[0]?.length ?? 0;
            return id.toString() === SERVER_ID;
          }),
        ),
      );
      assertOk(await hello(c));
      assert.equal(chainLength, 3, 'leaf, intermediate, root');
    });
  });
});

describe('client: unusable material', () => {
  it('fails closed while the source has no usable bundle, and recovers', async () => {
    const running = await bound(mtlsServerCredentials(source(w.srvA), authorizeAny()));
    const clientSource = new MutableX509Source(w.cliA, w.bundles);
    const creds = mtlsClientCredentials(clientSource, authorizeId(SERVER_ID));
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      await using(running, async (connect) => {
        assertOk(await hello(connect(client(running.port, creds))));
        clientSource.update({ bundles: new X509BundleSet() });
        assertRefused(await hello(connect(client(running.port, creds))), status.UNAVAILABLE);
        clientSource.update({ bundles: w.bundles });
        assertOk(await hello(connect(client(running.port, creds))));
      });
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(warnings.some((e) => e instanceof TlsConfigurationError));
  });
});

describe('mTLS-web (Web PKI server certificate, SPIFFE client)', () => {
  let web: TestCA;
  let localhostCert: RawX509Svid;

  before(async () => {
    web = await TestCA.create({ trustDomain: 'web.test' });
    localhostCert = await web.issueX509SvidUnchecked({ uris: [], dnsNames: ['localhost'] });
  });

  function webServer(): Promise<Running> {
    return bound(
      mtlsWebServerCredentials(staticX509Source(undefined, w.bundles), authorizeId(CLIENT_ID), {
        key: localhostCert.privateKeyPem,
        cert: localhostCert.certificatesPem,
      }),
    );
  }

  it('the client checks the host name with the given roots; the server checks the SVID', async () => {
    const running = await webServer();
    await using(running, async (connect) => {
      const c = connect(
        client(running.port, mtlsWebClientCredentials(w.cliA, { roots: web.x509Authorities })),
      );
      assert.equal(assertOk(await hello(c)).peerId, CLIENT_ID);
    });
  });

  it('the client refuses a host name the certificate does not carry', async () => {
    const running = await webServer();
    await using(running, async (connect) => {
      const c = connect(
        client(running.port, mtlsWebClientCredentials(w.cliA, { roots: web.x509Authorities }), {
          'grpc.use_local_subchannel_pool': 1,
          'grpc.ssl_target_name_override': 'api.example.com',
        }),
      );
      assertRefused(await hello(c), status.UNAVAILABLE);
      assert.equal(running.recorder.invocations, 0);
    });
  });

  it('the client does not trust the Web PKI roots of Node for a SPIFFE-less test CA', async () => {
    const running = await webServer();
    await using(running, async (connect) => {
      const c = connect(client(running.port, mtlsWebClientCredentials(w.cliA)));
      assertRefused(await hello(c), status.UNAVAILABLE);
    });
  });
});

describe('argument checks', () => {
  it('refuses sources and authorizers that are not usable', () => {
    assert.throws(
      () => mtlsClientCredentials({} as X509MaterialSource, authorizeAny()),
      InvalidArgumentError,
    );
    assert.throws(
      () => mtlsServerCredentials(source(w.srvA), 'any' as unknown as Authorizer),
      InvalidArgumentError,
    );
    assert.throws(
      () =>
        mtlsServerCredentials(source(w.srvA), authorizeAny(), {
          onReject: 1 as unknown as () => void,
        }),
      InvalidArgumentError,
    );
    assert.throws(() => mtlsWebClientCredentials(w.cliA, { roots: [] }), InvalidArgumentError);
    assert.throws(
      () => createGrpcTlsServer({} as never, mtlsServer(source(w.srvA), authorizeAny())),
      InvalidArgumentError,
    );
  });

  it('refuses trust material without authorities (never the public roots)', () => {
    const empty = staticX509Source(w.cliA, new X509BundleSet());
    assert.throws(() => mtlsClientCredentials(empty, authorizeAny()), TlsConfigurationError);
    assert.throws(() => mtlsServerCredentials(empty, authorizeAny()), TlsConfigurationError);
  });

  it('refuses identity-bound resumption for server credentials', () => {
    assert.throws(
      () =>
        mtlsServerCredentials(source(w.srvA), authorizeAny(), {
          resumption: 'identity-bound',
        } as object),
      /resumption "identity-bound" is refused/,
    );
  });

  it('refuses bundle authorities that a grpc-js server cannot use as anchors', async () => {
    const inter = await w.a.createIntermediate();
    const partial = X509BundleSet.of(
      X509Bundle.fromAuthorities(w.a.trustDomain, [inter.certificate]),
    );
    assert.throws(
      () => mtlsServerCredentials(staticX509Source(w.srvA, partial), authorizeAny()),
      (err: unknown) =>
        err instanceof TlsConfigurationError && err.message.includes('not self-signed'),
    );
    // Positive control: the same server without the intermediate as an authority.
    assert.ok(mtlsServerCredentials(staticX509Source(w.srvA, w.bundles), authorizeAny()));
  });
});
