// Mode construction, the option sets they produce, and the material tracker behind them.
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { X509BundleSet } from '../../src/bundle/x509-bundle-set.js';
import { InvalidArgumentError, TlsConfigurationError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { TestCA } from '../../src/testing/index.js';
import { MaterialTracker } from '../../src/tls/material.js';
import {
  authorizeAny,
  createHttp2SecureServer,
  createHttpsServer,
  createTlsServer,
  MutableX509Source,
  mtlsClient,
  mtlsServer,
  mtlsWebClient,
  peerIdOf,
  staticX509Source,
  tlsClient,
  tlsServer,
} from '../../src/tls/index.js';
import { PeerVerifier } from '../../src/tls/verifier.js';
import { type World, world } from './helpers.js';

let w: World;
before(async () => {
  w = await world();
});

describe('mode construction', () => {
  it('validates authorizers, sources and context options', () => {
    const src = staticX509Source(w.cliA, w.bundles);
    assert.throws(() => mtlsClient(src, undefined as never), /authorizer must be a function/);
    assert.throws(() => tlsClient({} as never, authorizeAny()), /no getX509BundleSet/);
    assert.throws(
      () => mtlsClient({ getX509BundleSet: () => w.bundles } as never, authorizeAny()),
      /no getX509Svid/,
    );
    assert.throws(() => mtlsServer(null as never, authorizeAny()), /must be an object/);
    assert.throws(
      () => mtlsClient(src, authorizeAny(), { minVersion: 'TLSv1.1' as never }),
      /TLS 1.2 is the minimum/,
    );
    assert.throws(
      () => mtlsClient(src, authorizeAny(), { maxVersion: 'TLSv1' as never }),
      InvalidArgumentError,
    );
    assert.throws(
      () => mtlsServer(src, authorizeAny(), { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }),
      /below minVersion/,
    );
    assert.throws(
      () => mtlsClient(src, authorizeAny(), { secureOptions: -1 }),
      InvalidArgumentError,
    );
    assert.throws(() => mtlsClient(src, authorizeAny(), { ciphers: '' }), InvalidArgumentError);
    assert.throws(
      () => mtlsServer(src, authorizeAny(), { onReject: 'x' as never }),
      /onReject must be a function/,
    );
    assert.throws(() => mtlsServer(src, authorizeAny(), { sessionTimeout: 60 }), /identity-bound/);
    assert.throws(
      () => mtlsServer(src, authorizeAny(), { resumption: 'identity-bound', sessionTimeout: 0 }),
      /1\.\.86400/,
    );
    assert.equal(mtlsClient(src, authorizeAny()).kind, 'mtls-client');
    assert.equal(tlsClient(src, authorizeAny()).kind, 'tls-client');
    assert.equal(mtlsWebClient(src).kind, 'mtls-web-client');
    assert.equal(tlsServer(src).kind, 'tls-server');
  });

  it('modes are opaque: a look-alike object is refused', () => {
    const fake = { kind: 'mtls-server', serverOptions: () => ({}) };
    assert.throws(() => createTlsServer(fake as never), /expected a server mode/);
  });
});

describe('server option sets', () => {
  it('mTLS: complete set with the SVID, the union of authorities as PEM, and the fixed security options', () => {
    const opts = mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny(), {
      minVersion: 'TLSv1.3',
      ciphers: 'TLS_AES_128_GCM_SHA256',
      secureOptions: constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
    }).serverOptions();
    const marshalled = w.srvA.marshal();
    assert.equal(opts.cert, marshalled.certificates);
    assert.equal(opts.key, marshalled.privateKey);
    assert.deepEqual(
      opts.ca,
      [...w.a.x509Authorities, ...w.b.x509Authorities].map((c) => c.toString()),
    );
    assert.equal(opts.requestCert, true);
    assert.equal(opts.rejectUnauthorized, true);
    assert.equal(opts.minVersion, 'TLSv1.3');
    assert.equal(opts.ciphers, 'TLS_AES_128_GCM_SHA256');
    assert.equal(
      opts.secureOptions,
      constants.SSL_OP_NO_TICKET |
        constants.SSL_OP_NO_RENEGOTIATION |
        constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
    );
    assert.match(String(opts.sessionIdContext), /^[0-9a-f]{32}$/);
    assert.equal(opts.sessionTimeout, undefined);
  });

  it('TLS server: no client certificate requested, no trust store', () => {
    const opts = tlsServer(staticX509Source(w.srvA, w.bundles)).serverOptions();
    assert.equal(opts.requestCert, false);
    assert.equal(opts.ca, undefined);
    assert.equal(opts.minVersion, 'TLSv1.2');
  });

  it('the session ID context differs between servers and changes with the material', () => {
    const source = new MutableX509Source(w.srvA, w.bundles);
    const m1 = mtlsServer(source, authorizeAny());
    const m2 = mtlsServer(source, authorizeAny());
    const first = m1.serverOptions().sessionIdContext;
    assert.notEqual(first, m2.serverOptions().sessionIdContext);
    assert.equal(m1.serverOptions().sessionIdContext, first);
    source.update({ bundles: X509BundleSet.of(w.a.x509Bundle()) });
    assert.notEqual(m1.serverOptions().sessionIdContext, first);
  });

  it('server creation refuses options the mode owns, naming each', () => {
    const mode = mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny());
    for (const [key, value] of [
      ['ca', 'x'],
      ['cert', 'x'],
      ['key', 'x'],
      ['requestCert', false],
      ['rejectUnauthorized', false],
      ['SNICallback', () => undefined],
      ['pskCallback', () => null],
      ['ticketKeys', Buffer.alloc(48)],
      ['sessionIdContext', 'x'],
      ['secureOptions', 0],
      ['minVersion', 'TLSv1'],
      ['secureContext', {}],
    ] as const) {
      const pattern = new RegExp(`option "${key}`);
      assert.throws(() => createTlsServer(mode, { [key]: value }), pattern);
      assert.throws(() => createHttpsServer(mode, { [key]: value }), pattern);
      assert.throws(() => createHttp2SecureServer(mode, { [key]: value }), pattern);
    }
    // Control: server-level options pass through.
    const server = createHttpsServer(mode, { requestTimeout: 1234, rejectUnauthorized: true });
    assert.equal(server.requestTimeout, 1234);
    server.close();
  });

  it('refuses material without any authority (Node would fall back to the public roots)', () => {
    const empty = staticX509Source(w.srvA, X509Bundle.empty(TrustDomain.parse('a.org')));
    assert.throws(
      () => createHttpsServer(mtlsServer(empty, authorizeAny())),
      TlsConfigurationError,
    );
    assert.throws(() => mtlsServer(empty, authorizeAny()).serverOptions(), /hold no authority/);
    // A TLS server trusts nobody, so it needs no authority.
    assert.equal(tlsServer(empty).serverOptions().requestCert, false);
  });
});

describe('material tracker', () => {
  it('rebuilds only when the source hands out different material; equal content keeps the generation', () => {
    let bundles = w.bundles;
    const tracker = new MaterialTracker(
      { getX509Svid: () => w.srvA, getX509BundleSet: () => bundles },
      true,
      true,
      'test',
    );
    const g1 = tracker.current();
    assert.equal(tracker.current(), g1);
    bundles = X509BundleSet.of(w.a.x509Bundle(), w.b.x509Bundle()); // new objects, same content
    assert.equal(tracker.current(), g1);
    bundles = X509BundleSet.of(w.a.x509Bundle());
    const g2 = tracker.current();
    assert.notEqual(g2, g1);
    assert.equal(g2.seq, g1.seq + 1);
    assert.equal(g2.removesTrustOf(g1), true);
    assert.equal(g1.removesTrustOf(g2), false);
    assert.notEqual(g2.verifier, g1.verifier, 'a new bundle set gets a new verification cache');
  });

  it('remembers a failed build for the same inputs and recovers with new ones', () => {
    let bundles = X509BundleSet.of();
    let builds = 0;
    const tracker = new MaterialTracker(
      {
        getX509Svid: () => w.srvA,
        getX509BundleSet: () => {
          builds += 1;
          return bundles;
        },
      },
      true,
      true,
      'test',
    );
    assert.throws(() => tracker.current(), TlsConfigurationError);
    assert.throws(() => tracker.current(), TlsConfigurationError);
    bundles = w.bundles;
    assert.ok(tracker.current().caPem !== undefined);
    assert.equal(builds, 3);
  });

  it('detects bundle authorities that are not self-signed', async () => {
    const ca = await TestCA.create({ trustDomain: 'a.org', intermediates: 1 });
    const tracker = (b: X509BundleSet): MaterialTracker =>
      new MaterialTracker({ getX509BundleSet: () => b }, false, true, 'test');
    assert.equal(tracker(X509BundleSet.of(ca.x509Bundle())).current().partialChain, false);
    const interOnly = X509Bundle.fromAuthorities(TrustDomain.parse('a.org'), ca.intermediates);
    assert.equal(tracker(X509BundleSet.of(interOnly)).current().partialChain, true);
  });

  it('the verification cache honours validity windows and its size bound', async () => {
    const shortLived = await w.a.issueX509Svid('spiffe://a.org/short', { ttlSeconds: 60 });
    const verifier = new PeerVerifier(w.bundles, 2);
    const leaf = shortLived.certificates[0]!;
    const now = Date.now();
    verifier.verifyCertificates(shortLived.certificates, leaf.fingerprint256, now);
    assert.equal(verifier.lookup(leaf.fingerprint256, now)?.id.toString(), 'spiffe://a.org/short');
    assert.equal(
      verifier.lookup(leaf.fingerprint256, now + 120_000),
      undefined,
      'expired: not served',
    );
    assert.equal(verifier.has(leaf.fingerprint256), false, 'and dropped');
    const ids = ['spiffe://a.org/one', 'spiffe://a.org/two', 'spiffe://a.org/three'];
    const svids = await Promise.all(ids.map((id) => w.a.issueX509Svid(id)));
    for (const s of svids)
      verifier.verifyCertificates(s.certificates, s.certificates[0]!.fingerprint256, now);
    assert.equal(
      verifier.has(svids[0]!.certificates[0]!.fingerprint256),
      false,
      'evicted (oldest first, 2 entries)',
    );
    assert.equal(verifier.has(svids[2]!.certificates[0]!.fingerprint256), true);
  });
});

describe('peerIdOf', () => {
  it('is undefined for anything the SDK did not verify', () => {
    for (const value of [
      undefined,
      null,
      42,
      'x',
      {},
      { socket: {} },
      { stream: { session: {} } },
    ]) {
      assert.equal(peerIdOf(value), undefined);
    }
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('unbound');
        },
      },
    );
    assert.equal(peerIdOf({ socket: throwing }), undefined);
  });
});
