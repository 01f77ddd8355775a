// fetchBundle with the https_spiffe profile (Federation §5.2.2): the endpoint must present an
// X509-SVID for exactly the configured SPIFFE ID, verified against the bundle of that ID's own
// trust domain, with no host name check.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle, X509BundleSet, type X509BundleSource } from '../../src/bundle/index.js';
import {
  BundleNotFoundError,
  InvalidArgumentError,
  PeerUnauthorizedError,
} from '../../src/errors.js';
import { type BundleEndpointAuth, fetchBundle } from '../../src/federation/index.js';
import { SpiffeId } from '../../src/spiffeid/index.js';
import { X509Svid } from '../../src/svid/index.js';
import { BundleEndpointServer, TestCA } from '../../src/testing/index.js';
import { failure, rejection } from './helpers.js';

const A = 'a.test';
const ENDPOINT = 'spiffe://a.test/bundle-endpoint';
let a: TestCA;
let b: TestCA;
let server: BundleEndpointServer;

function auth(bundleSource: X509BundleSource, endpointId: string = ENDPOINT): BundleEndpointAuth {
  return { profile: 'https_spiffe', endpointId, bundleSource };
}

before(async () => {
  [a, b] = await Promise.all([
    TestCA.create({ trustDomain: A }),
    TestCA.create({ trustDomain: 'b.test' }),
  ]);
  server = await BundleEndpointServer.create({
    profile: 'https_spiffe',
    trustDomain: A,
    endpointId: ENDPOINT,
    ca: a,
  });
});
after(async () => {
  await server.close();
});

describe('fetchBundle https_spiffe: endpoint authentication (§5.2.2.4)', () => {
  it('accepts the configured endpoint ID verified against its trust domain (control)', async () => {
    const fetched = await fetchBundle(A, server.url, { auth: auth(a.x509Bundle()) });
    assert.deepEqual(
      fetched.x509Authorities.map((c) => c.fingerprint256),
      a.x509Authorities.map((c) => c.fingerprint256),
    );
  });

  it('needs no host name: any host that reaches the endpoint will do', async () => {
    const fetched = await fetchBundle(A, server.url.replace('127.0.0.1', 'localhost'), {
      auth: auth(a.x509Bundle()),
    });
    assert.equal(fetched.trustDomain.name, A);
  });

  it('refuses an endpoint that presents another SPIFFE ID', async () => {
    const err = await failure(
      fetchBundle(A, server.url, { auth: auth(a.x509Bundle(), 'spiffe://a.test/other') }),
      'tls',
    );
    assert.ok(err.cause instanceof PeerUnauthorizedError, String(err.cause));
    assert.match(err.message, /unexpected peer ID "spiffe:\/\/a\.test\/bundle-endpoint"/);
  });

  it('refuses an endpoint ID signed by another trust domain, even with both bundles in the source', async () => {
    const forged = await b.issueX509SvidUnchecked({ uris: [ENDPOINT] });
    await using evil = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: A,
      svid: X509Svid.fromCertificates(forged.certificates, forged.privateKey),
      endpointId: ENDPOINT,
    });
    const both = X509BundleSet.of(a.x509Bundle(), b.x509Bundle());
    await failure(fetchBundle(A, evil.url, { auth: auth(both) }), 'tls');
    // Control: the genuine endpoint with the same merged source.
    assert.ok(await fetchBundle(A, server.url, { auth: auth(both) }));
  });

  it('refuses an endpoint whose CA is not in the bundle of its trust domain', async () => {
    const other = await TestCA.create({ trustDomain: A });
    await failure(fetchBundle(A, server.url, { auth: auth(other.x509Bundle()) }), 'tls');
  });

  it('refuses an expired endpoint SVID', async () => {
    await using expired = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: A,
      ca: a,
      expired: true,
    });
    const err = await failure(fetchBundle(A, expired.url, { auth: auth(a.x509Bundle()) }), 'tls');
    // OpenSSL's prefilter refuses it before the SDK's own verification would.
    assert.match(err.message, /expired/);
  });

  it('refuses a Web PKI server: no SPIFFE ID, no https_spiffe', async () => {
    await using web = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: A });
    await failure(fetchBundle(A, web.url, { auth: auth(a.x509Bundle()) }), 'tls');
  });

  it('fails with BundleNotFoundError when the source has no bundle for the endpoint trust domain', async () => {
    const err = await rejection(fetchBundle(A, server.url, { auth: auth(b.x509Bundle()) }));
    assert.ok(err instanceof BundleNotFoundError, String(err));
  });

  it('wraps a failing custom bundle source', async () => {
    const broken = {
      getX509BundleForTrustDomain: () => {
        throw new TypeError('boom');
      },
    };
    const err = await failure(fetchBundle(A, server.url, { auth: auth(broken) }), 'tls');
    assert.match(err.message, /cannot get the X\.509 bundle of "a\.test".*boom/);
  });

  it('refuses a missing endpoint ID or bundle source', async () => {
    for (const bad of [
      { profile: 'https_spiffe', bundleSource: a.x509Bundle() },
      { profile: 'https_spiffe', endpointId: ENDPOINT },
      { profile: 'https_spiffe', endpointId: 42, bundleSource: a.x509Bundle() },
    ]) {
      const err = await rejection(
        fetchBundle(A, server.url, { auth: bad as unknown as BundleEndpointAuth }),
      );
      assert.ok(err instanceof InvalidArgumentError, JSON.stringify(bad));
    }
  });
});

describe('fetchBundle https_spiffe: self-serving and non-self-serving endpoints (§5.2.2.2)', () => {
  it('refuses a bundle from a self-serving endpoint that does not authenticate the endpoint itself', async () => {
    const foreign = await TestCA.create({ trustDomain: 'b.test' });
    const noId = await foreign.createIntermediate({ uri: false }); // no SPIFFE ID to give it away
    server.setBundle(SpiffeBundle.empty(a.trustDomain).withX509Authority(noId.certificate));
    try {
      const err = await failure(
        fetchBundle(A, server.url, { auth: auth(a.x509Bundle()) }),
        'wrong-trust-domain',
      );
      assert.match(err.message, /does not authenticate the endpoint's own X509-SVID/);
    } finally {
      server.setBundle(SpiffeBundle.fromX509Bundle(a.x509Bundle()));
    }
  });

  it('serves another trust domain from a non-self-serving endpoint (no self check)', async () => {
    await using host = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: 'b.test',
      endpointId: ENDPOINT,
      ca: a,
      bundle: SpiffeBundle.fromX509Bundle(b.x509Bundle()),
    });
    const fetched = await fetchBundle('b.test', host.url, { auth: auth(a.x509Bundle()) });
    assert.equal(fetched.trustDomain.name, 'b.test');
    assert.ok(fetched.hasX509Authority(b.x509Authorities[0]!));
    // The same answer is refused for a.test: b.test's root names its own trust domain.
    await failure(fetchBundle(A, host.url, { auth: auth(a.x509Bundle()) }), 'wrong-trust-domain');
  });

  it('follows a redirect only to an endpoint with the same SPIFFE ID', async () => {
    await using same = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: A,
      endpointId: ENDPOINT,
      ca: a,
    });
    await using different = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: A,
      endpointId: 'spiffe://a.test/cdn',
      ca: a,
    });
    try {
      server.setFault({ kind: 'status', status: 307, headers: { location: same.url } });
      const fetched = await fetchBundle(A, server.url, {
        auth: auth(a.x509Bundle()),
        maxRedirects: 1,
      });
      assert.equal(fetched.trustDomain.name, A);
      server.setFault({ kind: 'status', status: 307, headers: { location: different.url } });
      const err = await failure(
        fetchBundle(A, server.url, { auth: auth(a.x509Bundle()), maxRedirects: 1 }),
        'tls',
      );
      assert.equal(err.url, different.url, 'the error names the URL that failed');
    } finally {
      server.clearFault();
    }
  });

  it('takes the endpoint ID as a SpiffeId too', async () => {
    const fetched = await fetchBundle(A, server.url, {
      auth: {
        profile: 'https_spiffe',
        endpointId: SpiffeId.parse(ENDPOINT),
        bundleSource: a.x509Bundle(),
      },
    });
    assert.equal(fetched.trustDomain.name, A);
  });
});
