// bundleEndpointHandler and createBundleEndpointServer (Federation §5.2.1.3, §5.2.2.3), checked
// with plain node:http / node:tls clients and with fetchBundle.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import { SpiffeBundle, type SpiffeBundleSource } from '../../src/bundle/index.js';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  bundleEndpointHandler,
  type BundleEndpointRequestListener,
  createBundleEndpointServer,
  fetchBundle,
  watchBundle,
} from '../../src/federation/index.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA } from '../../src/testing/index.js';
import { MutableX509Source } from '../../src/tls/index.js';
import { failure, FakeClock } from './helpers.js';

const TD = TrustDomain.parse('a.test');
let ca: TestCA;
let bundle: SpiffeBundle;

before(async () => {
  ca = await TestCA.create({ trustDomain: TD });
  bundle = SpiffeBundle.fromX509Bundle(ca.x509Bundle()).withRefreshHint(300).withSequenceNumber(4n);
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Serves `listener` over plain HTTP on 127.0.0.1 for one request. */
async function ask(listener: BundleEndpointRequestListener, method = 'GET'): Promise<Answer> {
  const server = http.createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: '/' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

describe('bundleEndpointHandler', () => {
  it('answers GET with the bundle JSON and safe headers', async () => {
    const answer = await ask(bundleEndpointHandler(TD, bundle));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.equal(answer.headers['content-length'], String(Buffer.byteLength(answer.body)));
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.equal(answer.headers['cache-control'], 'max-age=300', 'fits the refresh hint');
    assert.ok(SpiffeBundle.parse(TD, answer.body).equals(bundle));
  });

  it('says no-cache for a bundle without refresh hint', async () => {
    const answer = await ask(bundleEndpointHandler(TD, bundle.withRefreshHint(undefined)));
    assert.equal(answer.headers['cache-control'], 'no-cache');
  });

  it('answers HEAD with the same headers and no body', async () => {
    const get = await ask(bundleEndpointHandler(TD, bundle));
    const head = await ask(bundleEndpointHandler(TD, bundle), 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.headers['content-type'], 'application/json');
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const answer = await ask(bundleEndpointHandler(TD, bundle), method);
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, 'GET, HEAD');
      assert.doesNotMatch(answer.body, /keys/);
    }
  });

  it('answers 500 without internals when the source fails, and reports the error', async () => {
    const errors: Error[] = [];
    const failing: SpiffeBundleSource = {
      getBundleForTrustDomain: () => {
        throw new Error('database password rejected');
      },
    };
    const answer = await ask(
      bundleEndpointHandler(TD, failing, { onError: (e) => errors.push(e) }),
    );
    assert.equal(answer.status, 500);
    assert.equal(answer.body, 'unable to serve the bundle of "a.test"\n');
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(errors[0]?.message, 'database password rejected');
  });

  it('refuses to serve another trust domain’s bundle from the source', async () => {
    const errors: Error[] = [];
    const other = SpiffeBundle.empty(TrustDomain.parse('b.test'));
    const wrong: SpiffeBundleSource = { getBundleForTrustDomain: () => other };
    const answer = await ask(bundleEndpointHandler(TD, wrong, { onError: (e) => errors.push(e) }));
    assert.equal(answer.status, 500);
    assert.match(errors[0]?.message ?? '', /"b\.test" for "a\.test"/);
  });

  it('survives an onError that throws', async () => {
    const failing: SpiffeBundleSource = {
      getBundleForTrustDomain: () => {
        throw new Error('x');
      },
    };
    const answer = await ask(
      bundleEndpointHandler(TD, failing, {
        onError: () => {
          throw new Error('bad logger');
        },
      }),
    );
    assert.equal(answer.status, 500);
  });

  it('asks the source on every request', async () => {
    let current = bundle;
    const handler = bundleEndpointHandler(TD, { getBundleForTrustDomain: () => current });
    assert.ok(SpiffeBundle.parse(TD, (await ask(handler)).body).equals(bundle));
    current = bundle.withSequenceNumber(5n);
    assert.equal(SpiffeBundle.parse(TD, (await ask(handler)).body).sequenceNumber, 5n);
  });

  it('refuses bad arguments', () => {
    assert.throws(() => bundleEndpointHandler('A.test', bundle), /trust domain/i);
    assert.throws(() => bundleEndpointHandler(TD, {} as SpiffeBundleSource), InvalidArgumentError);
    assert.throws(
      () => bundleEndpointHandler(TD, bundle, { onError: 'log' as unknown as () => void }),
      InvalidArgumentError,
    );
  });
});

/** The serial number of the certificate the TLS server at `url` presents now. */
async function servedSerial(url: URL): Promise<string> {
  const socket = tls.connect({
    host: url.hostname,
    port: Number(url.port),
    ca: ca.x509Authorities.map((c) => c.toString()),
    checkServerIdentity: () => undefined,
  });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerX509Certificate()?.serialNumber ?? '';
  } finally {
    socket.destroy();
  }
}

describe('createBundleEndpointServer', () => {
  let web: TestCA;
  before(async () => {
    web = await TestCA.create({ trustDomain: 'web.test' }); // a stand-in for a public CA
  });

  it('serves https_web with a Web PKI certificate', async () => {
    const cert = await web.issueX509SvidUnchecked({ uris: [], dnsNames: ['localhost'] });
    await using endpoint = createBundleEndpointServer({
      profile: 'https_web',
      trustDomain: TD,
      bundleSource: bundle,
      key: cert.privateKey,
      cert: [...cert.certificates],
    });
    const url = await endpoint.listen(0, '127.0.0.1');
    assert.equal(endpoint.url?.href, url.href);
    url.hostname = 'localhost';
    const fetched = await fetchBundle(TD, url, {
      auth: { profile: 'https_web', roots: web.x509Authorities },
    });
    assert.ok(fetched.equals(bundle));
    // Control: the certificate names localhost, not 127.0.0.1.
    url.hostname = '127.0.0.1';
    await failure(
      fetchBundle(TD, url, { auth: { profile: 'https_web', roots: web.x509Authorities } }),
      'tls',
    );
  });

  it('serves https_spiffe and follows the rotation of its X509-SVID source', async () => {
    const endpointId = 'spiffe://a.test/bundle-endpoint';
    const first = await ca.issueX509Svid(endpointId);
    const source = new MutableX509Source(first, ca.x509Bundle());
    await using endpoint = createBundleEndpointServer({
      profile: 'https_spiffe',
      trustDomain: TD,
      bundleSource: bundle,
      x509Source: source,
    });
    const url = await endpoint.listen(0, '127.0.0.1');
    const auth = { profile: 'https_spiffe', endpointId, bundleSource: ca.x509Bundle() } as const;
    assert.ok((await fetchBundle(TD, url, { auth })).equals(bundle));
    assert.equal(await servedSerial(url), first.certificates[0]?.serialNumber);

    const second = await ca.issueX509Svid(endpointId);
    source.update({ svid: second });
    assert.equal(await servedSerial(url), second.certificates[0]?.serialNumber);
    assert.ok((await fetchBundle(TD, url, { auth })).equals(bundle));
  });

  it('serves only its path', async () => {
    const cert = await web.issueX509SvidUnchecked({ uris: [], dnsNames: ['localhost'] });
    await using endpoint = createBundleEndpointServer({
      profile: 'https_web',
      trustDomain: TD,
      bundleSource: bundle,
      key: cert.privateKeyPem,
      cert: cert.certificatesPem,
      path: '/bundle.json',
    });
    const url = await endpoint.listen(0, '127.0.0.1');
    url.hostname = 'localhost';
    assert.equal(url.pathname, '/bundle.json');
    const auth = { profile: 'https_web', roots: web.x509Authorities } as const;
    assert.ok((await fetchBundle(TD, url, { auth })).equals(bundle));
    url.pathname = '/';
    const err = await failure(fetchBundle(TD, url, { auth }), 'status');
    assert.equal(err.status, 404);
  });

  it('closes idempotently, before or after listening', async () => {
    const endpoint = createBundleEndpointServer({
      profile: 'https_spiffe',
      trustDomain: TD,
      bundleSource: bundle,
      x509Source: new MutableX509Source(
        await ca.issueX509Svid('spiffe://a.test/x'),
        ca.x509Bundle(),
      ),
    });
    await endpoint.close();
    await endpoint.close();
    assert.equal(endpoint.server.listening, false);
  });

  it('refuses bad options', () => {
    const base = { trustDomain: TD, bundleSource: bundle };
    for (const options of [
      { ...base, profile: 'https' },
      { ...base, profile: 'https_web', key: 'not a key', cert: [] },
      { ...base, profile: 'https_web', key: 42, cert: 'x' },
      { ...base, profile: 'https_spiffe', x509Source: {}, path: 'no-slash' },
    ]) {
      assert.throws(
        () =>
          createBundleEndpointServer(
            options as unknown as Parameters<typeof createBundleEndpointServer>[0],
          ),
        InvalidArgumentError,
        options.profile,
      );
    }
  });
});

describe('fetchBundle and watchBundle against createBundleEndpointServer', () => {
  const endpointId = 'spiffe://a.test/bundle-endpoint';

  async function spiffeEndpoint(
    source: MutableX509Source,
    bundleSource: SpiffeBundleSource,
  ): Promise<{ endpoint: ReturnType<typeof createBundleEndpointServer>; url: URL }> {
    const endpoint = createBundleEndpointServer({
      profile: 'https_spiffe',
      trustDomain: TD,
      bundleSource,
      x509Source: source,
    });
    return { endpoint, url: await endpoint.listen(0, '127.0.0.1') };
  }

  it('refuses a wrong endpoint ID, an expired SVID, a foreign bundle, a failing source and an oversized body', async () => {
    const source = new MutableX509Source(await ca.issueX509Svid(endpointId), ca.x509Bundle());
    let served: SpiffeBundle = bundle;
    const { endpoint, url } = await spiffeEndpoint(source, {
      getBundleForTrustDomain: () => served,
    });
    try {
      const auth = { profile: 'https_spiffe', endpointId, bundleSource: ca.x509Bundle() } as const;
      assert.ok((await fetchBundle(TD, url, { auth })).equals(bundle), 'control');
      await failure(
        fetchBundle(TD, url, { auth: { ...auth, endpointId: 'spiffe://a.test/other' } }),
        'tls',
      );
      const size = Buffer.byteLength(bundle.marshal());
      await failure(fetchBundle(TD, url, { auth, maxBytes: size - 1 }), 'too-large');

      const foreign = await TestCA.create({ trustDomain: 'b.test' });
      served = bundle.withX509Authority(foreign.x509Authorities[0]!);
      await failure(fetchBundle(TD, url, { auth }), 'wrong-trust-domain');
      served = SpiffeBundle.empty(TrustDomain.parse('b.test'));
      const err = await failure(fetchBundle(TD, url, { auth }), 'status');
      assert.equal(err.status, 500);
      served = bundle;

      const now = Date.now();
      source.update({
        svid: await ca.issueX509Svid(endpointId, {
          notBefore: new Date(now - 7_200_000),
          notAfter: new Date(now - 3_600_000),
        }),
      });
      await failure(fetchBundle(TD, url, { auth }), 'tls');
    } finally {
      await endpoint.close();
    }
  });

  it('lets a watch follow the endpoint through a key rotation', async () => {
    const rotating = await TestCA.create({ trustDomain: TD });
    const source = new MutableX509Source(
      await rotating.issueX509Svid(endpointId),
      rotating.x509Bundle(),
    );
    let served = SpiffeBundle.fromX509Bundle(rotating.x509Bundle());
    const { endpoint, url } = await spiffeEndpoint(source, {
      getBundleForTrustDomain: () => served,
    });
    const clock = new FakeClock();
    const bootstrap = rotating.x509Bundle();
    const watch = watchBundle(TD, url, {
      auth: { profile: 'https_spiffe', endpointId, bundleSource: bootstrap },
      clock,
    });
    try {
      await watch.waitForBundle();
      await rotating.rotateX509Authority(); // publish the new root next to the old one
      served = SpiffeBundle.fromX509Bundle(rotating.x509Bundle());
      clock.fire();
      await clock.waitForTimer(2);
      assert.equal(watch.latest?.x509Authorities.length, 2);
      source.update({ svid: await rotating.issueX509Svid(endpointId) }); // now signed by the new root
      clock.fire();
      await clock.waitForTimer(3);
      assert.equal(watch.lastError, undefined, String(watch.lastError));
      // Control: the bootstrap bundle alone no longer authenticates the endpoint.
      await failure(
        fetchBundle(TD, url, {
          auth: { profile: 'https_spiffe', endpointId, bundleSource: bootstrap },
        }),
        'tls',
      );
    } finally {
      await watch.close();
      await endpoint.close();
    }
  });
});
