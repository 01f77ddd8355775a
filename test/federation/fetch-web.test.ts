// fetchBundle: the URL, HTTP and body rules, and the https_web profile (tls-in-node.md §8 case
// 26). Each rule has a negative test next to a positive control on the same server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle } from '../../src/bundle/index.js';
import { BundleEndpointError, InvalidArgumentError } from '../../src/errors.js';
import { fetchBundle } from '../../src/federation/index.js';
import { BundleEndpointServer, TestCA } from '../../src/testing/index.js';
import { failure, rejection, webAuth } from './helpers.js';

const TD = 'a.test';
let ca: TestCA;
let bundle: SpiffeBundle;
let server: BundleEndpointServer;

before(async () => {
  ca = await TestCA.create({ trustDomain: TD });
  bundle = SpiffeBundle.fromX509Bundle(ca.x509Bundle()).withSequenceNumber(7n).withRefreshHint(300);
  server = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: TD, bundle });
});
after(async () => {
  await server.close();
});

function fetchWeb(
  options: {
    timeout?: number;
    maxBytes?: number;
    signal?: AbortSignal;
    maxRedirects?: number;
  } = {},
  url: string = server.url,
): Promise<SpiffeBundle> {
  server.clearFault();
  return fetchBundle(TD, url, { auth: webAuth(server), ...options });
}

describe('fetchBundle: URL rules (Federation §5.2.1.1, §5.2.2.1)', () => {
  it('accepts an https URL (control)', async () => {
    const fetched = await fetchWeb();
    assert.ok(fetched.equals(bundle));
    assert.equal(fetched.trustDomain.name, TD);
  });

  it('refuses an http URL before connecting', async () => {
    const err = await rejection(fetchWeb({}, server.url.replace('https:', 'http:')));
    assert.ok(err instanceof InvalidArgumentError, String(err));
    assert.match(err.message, /scheme is "http", not https/);
  });

  it('refuses a URL with userinfo and never shows the password', async () => {
    const err = await rejection(
      fetchWeb({}, server.url.replace('https://', 'https://user:s3cret@')),
    );
    assert.ok(err instanceof InvalidArgumentError, String(err));
    assert.match(err.message, /userinfo/);
    assert.doesNotMatch(err.message, /s3cret/);
  });

  it('refuses a string that is not a URL', async () => {
    const err = await rejection(fetchBundle(TD, 'not a url', { auth: { profile: 'https_web' } }));
    assert.ok(err instanceof InvalidArgumentError, String(err));
  });

  it('refuses a missing or unknown profile (never inferred from the URL, §7.2)', async () => {
    for (const auth of [undefined, { profile: 'https' }, {}]) {
      const err = await rejection(
        fetchBundle(TD, server.url, { auth } as unknown as Parameters<typeof fetchBundle>[2]),
      );
      assert.ok(err instanceof InvalidArgumentError, String(err));
    }
  });

  it('keeps the query out of error messages', async () => {
    server.setFault({ kind: 'status', status: 404 });
    const err = await failure(
      fetchBundle(TD, `${server.url}?token=s3cret`, { auth: webAuth(server) }),
      'status',
    );
    assert.doesNotMatch(err.message, /s3cret/);
    assert.equal(err.url, `${server.url}?…`);
    const sent = server.requests.at(-1);
    assert.equal(sent?.path, '/?token=s3cret', 'the query is still sent');
  });
});

describe('fetchBundle: HTTP rules', () => {
  it('sends one GET that accepts JSON', async () => {
    await fetchWeb();
    const request = server.requests.at(-1);
    assert.equal(request?.method, 'GET');
    assert.equal(request.headers.accept, 'application/json, application/jwk-set+json');
    assert.equal(request.headers.connection, 'close', 'no connection is kept');
  });

  it('refuses a status other than 200', async () => {
    for (const status of [404, 500, 204, 203]) {
      server.setFault({ kind: 'status', status, body: '' });
      const err = await failure(fetchBundle(TD, server.url, { auth: webAuth(server) }), 'status');
      assert.equal(err.status, status);
    }
    assert.ok((await fetchWeb()).equals(bundle), 'control: 200');
  });

  it('refuses a Content-Type that is not JSON, and accepts the JSON ones', async () => {
    const refused = [
      'text/html',
      'text/plain',
      'application/octet-stream',
      'application/jsonx',
      'application/json; charset=iso-8859-1',
      undefined,
    ];
    for (const contentType of refused) {
      server.setFault({ kind: 'content-type', contentType });
      await failure(fetchBundle(TD, server.url, { auth: webAuth(server) }), 'content-type');
    }
    const accepted = [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/jwk-set+json',
    ];
    for (const contentType of accepted) {
      server.setFault({ kind: 'content-type', contentType });
      const fetched = await fetchBundle(TD, server.url, { auth: webAuth(server) });
      assert.ok(fetched.equals(bundle), contentType);
    }
  });

  it('refuses a redirect unless maxRedirects allows it', async () => {
    server.setFault({ kind: 'status', status: 302, headers: { location: server.url } });
    const err = await failure(fetchBundle(TD, server.url, { auth: webAuth(server) }), 'redirect');
    assert.equal(err.status, 302);
    assert.match(err.message, /not followed/);
  });
});

describe('fetchBundle: body rules', () => {
  it('refuses invalid JSON', async () => {
    server.setFault({ kind: 'invalid-json' });
    const err = await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server) }),
      'invalid-bundle',
    );
    assert.equal(err.cause instanceof Error && err.cause.name, 'InvalidBundleError');
  });

  it('refuses a body over maxBytes and accepts one of exactly maxBytes', async () => {
    const size = Buffer.byteLength(bundle.marshal());
    await failure(fetchWeb({ maxBytes: size - 1 }), 'too-large');
    assert.ok((await fetchWeb({ maxBytes: size })).equals(bundle));
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    server.setFault({ kind: 'oversized', bytes: 5000, declareLength: true });
    const err = await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server), maxBytes: 4000 }),
      'too-large',
    );
    assert.match(err.message, /declares 5000 bytes/);
  });

  it('enforces the limit while streaming: an endless body fails, it is not read to the end', async () => {
    server.setFault({ kind: 'oversized', bytes: Infinity });
    const err = await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server), maxBytes: 100_000 }),
      'too-large',
    );
    assert.match(err.message, /exceeds 100000 bytes/);
  });

  it('refuses a default-limit body of MAX_BUNDLE_DOCUMENT_SIZE + 1 bytes', async () => {
    server.setFault({ kind: 'oversized' });
    await failure(fetchBundle(TD, server.url, { auth: webAuth(server) }), 'too-large');
  });

  it('refuses maxBytes outside 1..MAX_BUNDLE_DOCUMENT_SIZE', async () => {
    for (const maxBytes of [0, -1, 1.5, 8 * 1024 * 1024 + 1]) {
      const err = await rejection(fetchWeb({ maxBytes }));
      assert.ok(err instanceof InvalidArgumentError, String(maxBytes));
    }
  });
});

describe('fetchBundle: wrong trust domain (what is detectable)', () => {
  it('refuses a bundle whose X.509 authority has the SPIFFE ID of another trust domain', async () => {
    server.setFault({ kind: 'wrong-trust-domain' });
    const err = await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server) }),
      'wrong-trust-domain',
    );
    assert.match(err.message, /"spiffe:\/\/wrong\.test" of trust domain "wrong\.test"/);
    // Control: the same document is accepted as the bundle of the trust domain it names.
    server.setFault({ kind: 'wrong-trust-domain' });
    const other = await fetchBundle('wrong.test', server.url, { auth: webAuth(server) });
    assert.equal(other.x509Authorities.length, 1);
  });

  it('cannot tell a foreign authority without a SPIFFE ID, nor JWT keys (documented)', async () => {
    const foreign = await TestCA.create({ trustDomain: 'b.test' });
    const noId = await foreign.createIntermediate({ uri: false });
    server.setFault({
      kind: 'wrong-trust-domain',
      bundle: SpiffeBundle.fromX509Bundle(ca.x509Bundle()).withX509Authority(noId.certificate),
    });
    const fetched = await fetchBundle(TD, server.url, { auth: webAuth(server) });
    assert.equal(fetched.x509Authorities.length, 2);
  });
});

describe('fetchBundle: timeout and abort', () => {
  it('times out when the headers do not come', async () => {
    server.setFault({ kind: 'slow', delayMs: 60_000 });
    const started = Date.now();
    const err = await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server), timeout: 200 }),
      'timeout',
    );
    assert.match(err.message, /within 200 ms/);
    assert.ok(Date.now() - started < 10_000);
  });

  it('times out when the body stops half way (the timeout covers the whole exchange)', async () => {
    server.setFault({ kind: 'slow', delayMs: 60_000, phase: 'body' });
    await failure(fetchBundle(TD, server.url, { auth: webAuth(server), timeout: 300 }), 'timeout');
  });

  it('waits for a slow answer within the timeout (control)', async () => {
    server.setFault({ kind: 'slow', delayMs: 50, phase: 'body' });
    const fetched = await fetchBundle(TD, server.url, { auth: webAuth(server), timeout: 10_000 });
    assert.ok(fetched.equals(bundle));
  });

  it('rejects with the abort reason when the signal aborts mid-request', async () => {
    server.setFault({ kind: 'slow', delayMs: 60_000 });
    const controller = new AbortController();
    const before = server.requests.length;
    const pending = fetchBundle(TD, server.url, {
      auth: webAuth(server),
      signal: controller.signal,
    });
    await server.waitForRequest((r) => r.index === before);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    assert.equal(await rejection(pending), reason);
  });

  it('does not send anything with an already aborted signal', async () => {
    const before = server.requests.length;
    const reason = new Error('already');
    const err = await rejection(
      fetchBundle(TD, server.url, { auth: webAuth(server), signal: AbortSignal.abort(reason) }),
    );
    assert.equal(err, reason);
    await fetchWeb();
    assert.equal(server.requests.length, before + 1, 'only the control request arrived');
  });

  it('refuses a timeout that is not a positive integer', async () => {
    for (const timeout of [0, -5, Number.NaN, 2 ** 31]) {
      assert.ok((await rejection(fetchWeb({ timeout }))) instanceof InvalidArgumentError);
    }
  });
});

describe('fetchBundle: https_web authentication (§5.2.1.4)', () => {
  it("refuses the test root with Node's default roots: given roots replace them", async () => {
    const err = await failure(
      fetchBundle(TD, server.url, { auth: { profile: 'https_web' } }),
      'tls',
    );
    assert.match(err.message, /TLS handshake failed/);
  });

  it('accepts a matching DNS SAN (localhost) and a matching IP SAN (127.0.0.1)', async () => {
    assert.ok((await fetchWeb({}, server.url)).equals(bundle), '127.0.0.1');
    assert.ok((await fetchWeb({}, server.url.replace('127.0.0.1', 'localhost'))).equals(bundle));
  });

  it('refuses a wrong host name', async () => {
    await using other = await BundleEndpointServer.create({
      profile: 'https_web',
      trustDomain: TD,
      dnsNames: ['bundle.example'],
      ipAddresses: [],
    });
    for (const host of ['127.0.0.1', 'localhost']) {
      const err = await failure(
        fetchBundle(TD, other.url.replace('127.0.0.1', host), { auth: webAuth(other) }),
        'tls',
      );
      assert.match(err.message, /altnames|Hostname|IP/i);
    }
  });

  it('does not accept a URI SAN alone, not even a SPIFFE ID of the trust domain', async () => {
    await using other = await BundleEndpointServer.create({
      profile: 'https_web',
      trustDomain: TD,
      dnsNames: [],
      ipAddresses: [],
      uris: ['spiffe://a.test/bundle-endpoint', 'https://localhost/'],
    });
    for (const host of ['127.0.0.1', 'localhost']) {
      await failure(
        fetchBundle(TD, other.url.replace('127.0.0.1', host), { auth: webAuth(other) }),
        'tls',
      );
    }
  });

  it('refuses an expired server certificate', async () => {
    await using expired = await BundleEndpointServer.create({
      profile: 'https_web',
      trustDomain: TD,
      expired: true,
    });
    const err = await failure(fetchBundle(TD, expired.url, { auth: webAuth(expired) }), 'tls');
    assert.match(err.message, /expired/);
  });

  it('ignores NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const old = process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
    process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';
    try {
      await failure(fetchBundle(TD, server.url, { auth: { profile: 'https_web' } }), 'tls');
    } finally {
      if (old === undefined) Reflect.deleteProperty(process.env, 'NODE_TLS_REJECT_UNAUTHORIZED');
      else process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = old;
    }
  });

  it('accepts roots as X509Certificate objects and refuses an empty or bogus list', async () => {
    const root = server.webRoot;
    assert.ok(root !== undefined);
    const fetched = await fetchBundle(TD, server.url, {
      auth: { profile: 'https_web', roots: [root] },
    });
    assert.ok(fetched.equals(bundle));
    for (const roots of [[], ['not pem'], [42]]) {
      const err = await rejection(
        fetchBundle(TD, server.url, {
          auth: { profile: 'https_web', roots } as unknown as Parameters<
            typeof fetchBundle
          >[2]['auth'],
        }),
      );
      assert.ok(err instanceof InvalidArgumentError, JSON.stringify(roots));
    }
  });

  it('reports a refused connection as a network failure', async () => {
    await using gone = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: TD });
    const url = gone.url;
    await gone.close();
    const err = await failure(fetchBundle(TD, url, { auth: webAuth(gone) }), 'network');
    assert.ok(err instanceof BundleEndpointError);
    assert.match(err.message, /cannot connect/);
  });
});

describe('fetchBundle: redirects (§5.2.1.4, §7.5.1)', () => {
  let target: BundleEndpointServer;
  before(async () => {
    target = await BundleEndpointServer.create({ profile: 'https_web', trustDomain: TD, bundle });
  });
  after(async () => {
    await target.close();
  });

  function redirectTo(location: string, status = 302): void {
    server.setFault({ kind: 'status', status, headers: { location } });
  }

  it('follows a redirect to a valid endpoint URL when maxRedirects allows it', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      redirectTo(target.url, status);
      const fetched = await fetchBundle(TD, server.url, {
        auth: webAuth(server, target),
        maxRedirects: 1,
      });
      assert.ok(fetched.equals(bundle), String(status));
    }
  });

  it('authenticates the redirect target like the configured URL', async () => {
    redirectTo(target.url);
    // Only the first server's root: the target's certificate is not trusted.
    await failure(fetchBundle(TD, server.url, { auth: webAuth(server), maxRedirects: 1 }), 'tls');
  });

  it('refuses a redirect to http or to a URL with userinfo', async () => {
    for (const location of [
      target.url.replace('https:', 'http:'),
      target.url.replace('https://', 'https://u:p@'),
    ]) {
      redirectTo(location);
      const err = await failure(
        fetchBundle(TD, server.url, { auth: webAuth(server, target), maxRedirects: 1 }),
        'redirect',
      );
      assert.match(err.message, /not a valid bundle endpoint URL/);
    }
  });

  it('refuses a redirect without Location', async () => {
    server.setFault({ kind: 'status', status: 302 });
    await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server, target), maxRedirects: 1 }),
      'redirect',
    );
  });

  it('stops after maxRedirects', async () => {
    redirectTo(server.url); // a loop
    const err = await failure(
      fetchBundle(TD, server.url, { auth: webAuth(server), maxRedirects: 2 }),
      'redirect',
    );
    assert.match(err.message, /beyond maxRedirects \(2\)/);
  });

  it('resolves a relative Location against the current URL', async () => {
    redirectTo(`//127.0.0.1:${target.port}/`); // a network-path reference keeps https
    const fetched = await fetchBundle(TD, server.url, {
      auth: webAuth(server, target),
      maxRedirects: 1,
    });
    assert.ok(fetched.equals(bundle));
  });

  it('refuses maxRedirects outside 0..10', async () => {
    for (const maxRedirects of [-1, 11, 0.5]) {
      assert.ok((await rejection(fetchWeb({ maxRedirects }))) instanceof InvalidArgumentError);
    }
  });
});
