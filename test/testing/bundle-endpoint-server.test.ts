// BundleEndpointServer, checked with plain node:https and node:tls (not with the SDK's federation
// client, which it exists to test).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle } from '../../src/bundle/index.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffeid/index.js';
import { verifyX509Svid } from '../../src/svid/index.js';
import { BundleEndpointServer, TestCA } from '../../src/testing/index.js';

const TD = TrustDomain.parse('a.test');
let ca: TestCA;
let bundle: SpiffeBundle;
let web: BundleEndpointServer;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** ms between the response headers and the end of the body */
  bodyMs: number;
}

function get(
  server: BundleEndpointServer,
  options: { path?: string; method?: string; servername?: string; ca?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        servername: options.servername ?? 'localhost',
        ca: options.ca ?? server.webRootPem ?? ca.x509Authorities.map((c) => c.toString()),
        // https_spiffe has no host name to check; the chain is still verified.
        ...(server.profile === 'https_spiffe' ? { checkServerIdentity: () => undefined } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const started = Date.now();
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            bodyMs: Date.now() - started,
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function servedCertificate(server: BundleEndpointServer): Promise<tls.PeerCertificate> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: server.port,
    rejectUnauthorized: false,
  });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate();
  } finally {
    socket.destroy();
  }
}

before(async () => {
  ca = await TestCA.create({ trustDomain: TD });
  bundle = SpiffeBundle.fromX509Bundle(ca.x509Bundle()).withSequenceNumber(3n);
  web = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: TD, bundle });
});
after(async () => {
  await web.close();
});

describe('BundleEndpointServer: https_web', () => {
  it('serves the bundle as JSON with a certificate for localhost and 127.0.0.1', async () => {
    web.clearFault();
    const answer = await get(web);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.ok(SpiffeBundle.parse(TD, answer.body).equals(bundle));
    assert.equal(web.certificate.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
    assert.equal(web.url, `https://127.0.0.1:${web.port}/`);
    assert.ok(web.certificate.checkIssued(web.webRoot!));
  });

  it('is not trusted without its test root (control)', async () => {
    await assert.rejects(get(web, { ca: ca.x509Authorities[0]!.toString() }), /certificate/);
  });

  it('makes the SANs it is asked for, and expired certificates', async () => {
    await using custom = await BundleEndpointServer.create({
      profile: 'https_web',
      trustDomain: TD,
      dnsNames: ['bundle.example'],
      ipAddresses: [],
      uris: ['spiffe://a.test/x'],
      expired: true,
    });
    assert.equal(custom.certificate.subjectAltName, 'DNS:bundle.example, URI:spiffe://a.test/x');
    assert.ok(Date.parse(custom.certificate.validTo) < Date.now());
    assert.equal(
      (await servedCertificate(custom)).fingerprint256,
      custom.certificate.fingerprint256,
    );
  });

  it('serves a replaced bundle from the next request on', async () => {
    web.clearFault();
    const next = bundle.withSequenceNumber(4n);
    web.setBundle(next);
    try {
      assert.equal(SpiffeBundle.parse(TD, (await get(web)).body).sequenceNumber, 4n);
      assert.equal(web.bundle, next);
    } finally {
      web.setBundle(bundle);
    }
    assert.throws(() => {
      web.setBundle(JSON.parse('{}') as SpiffeBundle);
    }, InvalidArgumentError);
    assert.throws(() => {
      web.setSvid(JSON.parse('{}') as never);
    }, InvalidArgumentError);
  });
});

describe('BundleEndpointServer: https_spiffe', () => {
  it('presents an X509-SVID for the endpoint ID and serves its CA by default', async () => {
    await using spiffe = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: TD,
      ca,
    });
    assert.equal(spiffe.endpointId?.toString(), 'spiffe://a.test/bundle-endpoint');
    assert.equal(spiffe.certificate.subjectAltName, 'URI:spiffe://a.test/bundle-endpoint');
    assert.equal(
      verifyX509Svid([spiffe.certificate], ca.x509Bundle()).id.toString(),
      'spiffe://a.test/bundle-endpoint',
    );
    const answer = await get(spiffe);
    assert.ok(
      SpiffeBundle.parse(TD, answer.body).equals(SpiffeBundle.fromX509Bundle(ca.x509Bundle())),
    );
  });

  it('switches the presented SVID with setSvid', async () => {
    await using spiffe = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: TD,
      ca,
    });
    const next = await ca.issueX509Svid(spiffe.endpointId!);
    spiffe.setSvid(next);
    const served = await servedCertificate(spiffe);
    assert.equal(served.fingerprint256, next.certificates[0]?.fingerprint256);
    assert.equal(spiffe.certificate, next.certificates[0]);
  });

  it('can present an expired SVID, or one given by the test', async () => {
    await using expired = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: TD,
      ca,
      expired: true,
    });
    assert.ok(Date.parse(expired.certificate.validTo) < Date.now());
    const given = await ca.issueX509Svid('spiffe://a.test/custom');
    await using custom = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: TD,
      ca,
      endpointId: 'spiffe://a.test/custom',
      svid: given,
    });
    assert.equal(
      (await servedCertificate(custom)).fingerprint256,
      given.certificates[0]?.fingerprint256,
    );
  });

  it('makes its own CA when none is given', async () => {
    await using own = await BundleEndpointServer.create({
      profile: 'https_spiffe',
      trustDomain: 'z.test',
    });
    assert.equal(own.ca?.trustDomain.name, 'z.test');
    assert.equal(own.bundle.x509Authorities[0], own.ca.x509Authorities[0]);
  });
});

describe('BundleEndpointServer: faults', () => {
  it('answers any status with a body and headers', async () => {
    web.setFault({
      kind: 'status',
      status: 302,
      body: 'moved',
      headers: { location: 'https://x/' },
    });
    const answer = await get(web);
    assert.equal(answer.status, 302);
    assert.equal(answer.headers['location'], 'https://x/');
    assert.equal(answer.body.toString(), 'moved');
    web.setFault({ kind: 'status', status: 404 });
    assert.equal((await get(web)).status, 404);
  });

  it('serves invalid JSON', async () => {
    web.setFault({ kind: 'invalid-json' });
    const answer = await get(web);
    assert.equal(answer.status, 200);
    assert.throws(() => JSON.parse(answer.body.toString()) as unknown, SyntaxError);
  });

  it('serves another trust domain’s bundle, or the one given', async () => {
    web.setFault({ kind: 'wrong-trust-domain' });
    const served = SpiffeBundle.parse(TD, (await get(web)).body);
    assert.match(served.x509Authorities[0]?.subjectAltName ?? '', /URI:spiffe:\/\/wrong\.test/);
    const given = SpiffeBundle.empty(TD).withSequenceNumber(99n);
    web.setFault({ kind: 'wrong-trust-domain', bundle: given });
    assert.ok(SpiffeBundle.parse(TD, (await get(web)).body).equals(given));
  });

  it('serves an oversized body of exactly the asked size, with or without Content-Length', async () => {
    web.setFault({ kind: 'oversized', bytes: 200_000, declareLength: true });
    const declared = await get(web);
    assert.equal(declared.body.length, 200_000);
    assert.equal(declared.headers['content-length'], '200000');
    assert.ok(JSON.parse(declared.body.toString()) as unknown, 'still JSON');
    web.setFault({ kind: 'oversized', bytes: 200_000 });
    const streamed = await get(web);
    assert.equal(streamed.body.length, 200_000);
    assert.equal(streamed.headers['content-length'], undefined);
    assert.equal(streamed.headers['transfer-encoding'], 'chunked');
  });

  it('serves the bundle with another Content-Type, or none', async () => {
    web.setFault({ kind: 'content-type', contentType: 'text/html' });
    assert.equal((await get(web)).headers['content-type'], 'text/html');
    web.setFault({ kind: 'content-type', contentType: undefined });
    const bare = await get(web);
    assert.equal(bare.headers['content-type'], undefined);
    assert.ok(SpiffeBundle.parse(TD, bare.body).equals(bundle));
  });

  it('delays the headers, or the second half of the body', async () => {
    web.setFault({ kind: 'slow', delayMs: 150 });
    const started = Date.now();
    const headersLate = await get(web);
    assert.ok(Date.now() - started >= 140, 'the answer came after the delay');
    assert.ok(SpiffeBundle.parse(TD, headersLate.body).equals(bundle));
    web.setFault({ kind: 'slow', delayMs: 150, phase: 'body' });
    const bodyLate = await get(web);
    assert.ok(bodyLate.bodyMs >= 140, `body took ${bodyLate.bodyMs} ms`);
    assert.ok(SpiffeBundle.parse(TD, bodyLate.body).equals(bundle));
  });

  it('answers normally after clearFault, and 404 off its path', async () => {
    web.setFault({ kind: 'status', status: 500 });
    web.clearFault();
    assert.equal((await get(web)).status, 200);
    web.setFault({ kind: 'status', status: 500 });
    const off = await get(web, { path: '/elsewhere' });
    assert.equal(off.status, 404);
    assert.equal(web.requests.at(-1)?.fault, undefined, 'faults apply to the bundle path only');
    web.clearFault();
  });
});

describe('BundleEndpointServer: request record and lifecycle', () => {
  it('records every request and lets a test wait for one', async () => {
    web.clearFault();
    const index = web.requests.length;
    const waiting = web.waitForRequest((r) => r.index === index);
    await get(web, { path: '/?x=1', method: 'HEAD' });
    const request = await waiting;
    assert.equal(request.method, 'HEAD');
    assert.equal(request.path, '/?x=1');
    assert.equal(request.headers.host, `127.0.0.1:${web.port}`);
    assert.equal(await web.waitForRequest((r) => r.index === index), request, 'past requests too');
  });

  it('rejects a waiter when its signal aborts or the server closes', async () => {
    const reason = new Error('stop');
    await assert.rejects(
      web.waitForRequest(() => false, { signal: AbortSignal.abort(reason) }),
      reason,
    );
    const server = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: TD });
    const waiting = server.waitForRequest();
    await server.close();
    await assert.rejects(waiting, /closed before the request came/);
    await server.close(); // idempotent
    await assert.rejects(get(server), /ECONNREFUSED/);
  });

  it('refuses a path without a leading slash', async () => {
    await assert.rejects(
      BundleEndpointServer.create({ profile: 'https_web', trustDomain: TD, path: 'x' }),
      InvalidArgumentError,
    );
  });
});
