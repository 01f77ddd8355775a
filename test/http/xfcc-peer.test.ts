// createXfccPeerIdReader: options are checked once; each request must come from the named proxy
// (remote address and/or SDK-verified mTLS peer ID), carry at most one XFCC field, and the LAST
// element must hold exactly one URI that is a valid SPIFFE ID (plus the optional By and matcher
// checks). Every refusal has a positive control; real servers check what Node actually hands over.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import {
  createXfccPeerIdReader,
  type XfccFailure,
  type XfccPeerIdOptions,
  type XfccRequest,
  XfccError,
} from '../../src/http/index.js';
import {
  InvalidArgumentError,
  InvalidSpiffeIdError,
  matchMemberOf,
  SpiffeId,
  TrustDomain,
} from '../../src/spiffeid/index.js';
import {
  authorizeAny,
  createHttpsServer,
  mtlsServer,
  staticX509Source,
} from '../../src/tls/index.js';
import { close, listen, pem, pems, type World, world } from '../tls/helpers.js';

const LOOPBACK = ['127.0.0.1', '::1'];
const SIDECAR = 'spiffe://a.org/ns/prod/sa/app';
const CLIENT = 'spiffe://a.org/ns/prod/sa/web';

function request(
  xfcc: string | readonly string[] | undefined,
  remoteAddress?: string,
): XfccRequest {
  const values = xfcc === undefined ? [] : typeof xfcc === 'string' ? [xfcc] : xfcc;
  return {
    rawHeaders: ['Host', 'app', ...values.flatMap((v) => ['X-Forwarded-Client-Cert', v])],
    socket: { remoteAddress: remoteAddress ?? '127.0.0.1' },
  };
}

function xfcc(uri: string, by = SIDECAR): string {
  return `By=${by};Hash=ab12;Subject="";URI=${uri}`;
}

function refuses(
  read: (r: XfccRequest) => unknown,
  req: XfccRequest,
  reason: XfccFailure,
  message?: RegExp,
): XfccError {
  let caught: unknown;
  try {
    read(req);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof XfccError, `expected XfccError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

describe('createXfccPeerIdReader: options', () => {
  it('requires the trusted proxy to be named', () => {
    assert.ok(createXfccPeerIdReader({ proxyAddresses: LOOPBACK }));
    assert.ok(createXfccPeerIdReader({ proxyId: SIDECAR }));
    assert.throws(() => createXfccPeerIdReader({}), /name the trusted proxy/);
    assert.throws(
      () => createXfccPeerIdReader({ expectedBy: SIDECAR, authorize: () => true }),
      InvalidArgumentError,
    );
    assert.throws(() => createXfccPeerIdReader(undefined as never), InvalidArgumentError);
  });

  it('refuses an empty address list and anything that is not one exact IP address', () => {
    for (const bad of [[], ['localhost'], ['10.0.0.0/8'], ['fe80::1%eth0'], ['127.000.0.1'], [7]]) {
      assert.throws(
        () => createXfccPeerIdReader({ proxyAddresses: bad as string[] }),
        InvalidArgumentError,
        JSON.stringify(bad),
      );
    }
    assert.throws(
      () => createXfccPeerIdReader({ proxyAddresses: '127.0.0.1' as unknown as string[] }),
      /non-empty array/,
    );
  });

  it('refuses unknown options (a misspelt authorize would accept everyone)', () => {
    const misspelt = { proxyAddresses: LOOPBACK, authorizer: () => false } as XfccPeerIdOptions;
    assert.throws(() => createXfccPeerIdReader(misspelt), /unknown option "authorizer"/);
  });

  it('parses proxyId and expectedBy strings, and refuses invalid ones', () => {
    assert.ok(createXfccPeerIdReader({ proxyId: SpiffeId.parse(SIDECAR), expectedBy: SIDECAR }));
    assert.throws(
      () => createXfccPeerIdReader({ proxyId: 'spiffe://A.org/x' }),
      InvalidSpiffeIdError,
    );
    assert.throws(
      () => createXfccPeerIdReader({ proxyAddresses: LOOPBACK, expectedBy: 'spiffe://a.org/' }),
      InvalidSpiffeIdError,
    );
    assert.throws(
      () => createXfccPeerIdReader({ proxyId: 42 as unknown as string }),
      /proxyId must be a SpiffeId or a string/,
    );
  });

  it('refuses an authorize that is not a function', () => {
    assert.throws(
      () =>
        createXfccPeerIdReader({
          proxyAddresses: LOOPBACK,
          authorize: true as unknown as () => true,
        }),
      /authorize must be a function/,
    );
  });
});

describe('createXfccPeerIdReader: the request must come from the proxy address', () => {
  const read = createXfccPeerIdReader({ proxyAddresses: LOOPBACK });

  it('accepts the listed addresses, IPv4-mapped IPv6 included', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      assert.equal(read(request(xfcc(CLIENT), address))?.toString(), CLIENT, address);
    }
  });

  it('compares addresses by value, not by spelling', () => {
    const longForm = createXfccPeerIdReader({
      proxyAddresses: ['0:0:0:0:0:0:0:1', '::FFFF:10.0.0.9'],
    });
    assert.equal(longForm(request(xfcc(CLIENT), '::1'))?.toString(), CLIENT);
    assert.equal(longForm(request(xfcc(CLIENT), '10.0.0.9'))?.toString(), CLIENT);
  });

  it('refuses any other address, even without a header', () => {
    refuses(read, request(xfcc(CLIENT), '10.1.2.3'), 'untrusted-proxy', /came from "10.1.2.3"/);
    refuses(read, request(undefined, '10.1.2.3'), 'untrusted-proxy');
    refuses(read, request(xfcc(CLIENT), '127.0.0.2'), 'untrusted-proxy');
    refuses(read, request(xfcc(CLIENT), '::ffff:10.1.2.3'), 'untrusted-proxy');
  });

  it('refuses a request whose remote address is unknown or unreadable', () => {
    refuses(read, { rawHeaders: [], socket: {} }, 'untrusted-proxy', /an unknown address/);
    refuses(read, { rawHeaders: [], socket: null }, 'untrusted-proxy');
    const gone = {
      rawHeaders: [],
      get socket(): never {
        throw new Error('ERR_HTTP2_SOCKET_UNBOUND');
      },
    };
    refuses(read, gone, 'untrusted-proxy');
  });

  it('throws InvalidArgumentError for something that is not a request', () => {
    assert.throws(() => read({} as XfccRequest), /Fastify: request.raw/);
    assert.throws(() => read(null as unknown as XfccRequest), InvalidArgumentError);
  });
});

describe('createXfccPeerIdReader: header fields', () => {
  const read = createXfccPeerIdReader({ proxyAddresses: LOOPBACK });

  it('returns undefined when the proxy sent no header (no client certificate)', () => {
    assert.equal(read(request(undefined)), undefined);
  });

  it('finds the header whatever its case', () => {
    const req = {
      rawHeaders: ['x-FORWARDED-client-CERT', xfcc(CLIENT)],
      socket: { remoteAddress: '::1' },
    };
    assert.equal(read(req)?.toString(), CLIENT);
  });

  it('refuses more than one field', () => {
    refuses(read, request([xfcc(CLIENT), xfcc(CLIENT)]), 'multiple-headers');
  });

  it('refuses a malformed header', () => {
    refuses(read, request(`${xfcc(CLIENT)};`), 'malformed');
    refuses(read, request(''), 'malformed');
  });
});

describe('createXfccPeerIdReader: the element the proxy appended', () => {
  const read = createXfccPeerIdReader({ proxyAddresses: LOOPBACK });

  it('takes the LAST element, never an earlier (client-written) one', () => {
    const forged = `${xfcc('spiffe://a.org/admin')},${xfcc(CLIENT)}`;
    assert.equal(read(request(forged))?.toString(), CLIENT);
    const reversed = `${xfcc(CLIENT)},${xfcc('spiffe://a.org/admin')}`;
    assert.equal(read(request(reversed))?.toString(), 'spiffe://a.org/admin');
  });

  it('requires exactly one URI value', () => {
    assert.equal(read(request(`URI=${CLIENT}`))?.toString(), CLIENT);
    refuses(
      read,
      request(`By=${SIDECAR};Hash=ab`),
      'client-id',
      /has no URI; .*set_current_client_cert_details\.uri/,
    );
    refuses(read, request(`By=${SIDECAR};URI=`), 'client-id', /no URI SAN/);
    refuses(read, request(`URI=${CLIENT};URI=spiffe://a.org/other`), 'client-id', /2 URI values/);
    refuses(read, request(`URI=${CLIENT};URI=https://web.example`), 'client-id', /2 URI values/);
    // The URI of an earlier element does not count for (or against) the last one.
    refuses(read, request(`URI=${CLIENT},By=${SIDECAR}`), 'client-id', /has no URI/);
  });

  it('requires the URI to be a valid SPIFFE ID', () => {
    for (const uri of [
      'https://web.example/x',
      'spiffe://A.org/web',
      'spiffe://a.org/web/',
      'SPIFFE://a.org/x',
    ]) {
      const err = refuses(read, request(`URI=${uri}`), 'client-id', /is not a valid SPIFFE ID/);
      assert.ok(err.cause instanceof InvalidSpiffeIdError, uri);
    }
  });

  it('checks By only when expectedBy is set, and then exactly', () => {
    const byChecked = createXfccPeerIdReader({ proxyAddresses: LOOPBACK, expectedBy: SIDECAR });
    assert.equal(byChecked(request(xfcc(CLIENT)))?.toString(), CLIENT);
    assert.equal(read(request(xfcc(CLIENT, 'spiffe://a.org/other')))?.toString(), CLIENT);
    refuses(
      byChecked,
      request(xfcc(CLIENT, 'spiffe://a.org/other')),
      'unexpected-by',
      /expected exactly \["spiffe:\/\/a.org\/ns\/prod\/sa\/app"\]/,
    );
    refuses(byChecked, request(`URI=${CLIENT}`), 'unexpected-by', /By values are \[\]/);
    refuses(byChecked, request(`By=${SIDECAR};By=spiffe://a.org/x;URI=${CLIENT}`), 'unexpected-by');
    refuses(
      byChecked,
      request(`${xfcc(CLIENT)},${xfcc(CLIENT, 'spiffe://a.org/other')}`),
      'unexpected-by',
    );
  });

  it('runs authorize on the client ID; only true allows', () => {
    const sameDomain = createXfccPeerIdReader({
      proxyAddresses: LOOPBACK,
      authorize: matchMemberOf(TrustDomain.parse('a.org')),
    });
    assert.equal(sameDomain(request(xfcc(CLIENT)))?.toString(), CLIENT);
    const err = refuses(
      sameDomain,
      request(xfcc('spiffe://b.org/web')),
      'unauthorized',
      /did not match/,
    );
    assert.equal(err.peerId, 'spiffe://b.org/web');

    const truthy = createXfccPeerIdReader({
      proxyAddresses: LOOPBACK,
      authorize: (() => 1) as unknown as () => boolean,
    });
    refuses(truthy, request(xfcc(CLIENT)), 'unauthorized');

    const boom = new Error('policy store down');
    const throwing = createXfccPeerIdReader({
      proxyAddresses: LOOPBACK,
      authorize: () => {
        throw boom;
      },
    });
    const thrown = refuses(
      throwing,
      request(xfcc(CLIENT)),
      'unauthorized',
      /refused by the matcher/,
    );
    assert.equal(thrown.cause, boom);
    assert.equal(thrown.peerId, CLIENT);
  });
});

describe('createXfccPeerIdReader: real node:http requests', () => {
  let server: http.Server;
  let port: number;
  /** What the handler saw: the client ID (or 'none', or the refusal) and Node's joined header. */
  let seen: { result: string; joined: string | string[] | undefined } | undefined;
  const read = createXfccPeerIdReader({ proxyAddresses: LOOPBACK });

  before(async () => {
    server = http.createServer((req, res) => {
      let result: string;
      try {
        result = read(req)?.toString() ?? 'none';
      } catch (err) {
        result = (err as XfccError).reason;
      }
      seen = { result, joined: req.headers['x-forwarded-client-cert'] };
      res.end();
    });
    port = await listen(server);
  });
  after(() => close(server));

  async function send(headers: http.OutgoingHttpHeaders): Promise<typeof seen> {
    seen = undefined;
    const req = http.request({ host: '127.0.0.1', port, headers, agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.resume();
    await once(res, 'end');
    return seen;
  }

  it('reads the client ID from a loopback request', async () => {
    assert.deepEqual(await send({ 'x-forwarded-client-cert': xfcc(CLIENT) }), {
      result: CLIENT,
      joined: xfcc(CLIENT),
    });
    assert.deepEqual(await send({}), { result: 'none', joined: undefined });
  });

  it('refuses two header lines, which Node joins with ", " in req.headers', async () => {
    const forged = 'URI=spiffe://a.org/admin';
    assert.deepEqual(await send({ 'x-forwarded-client-cert': [forged, xfcc(CLIENT)] }), {
      result: 'multiple-headers',
      joined: `${forged}, ${xfcc(CLIENT)}`,
    });
  });

  it('refuses a loopback request when the proxy is named by another address', async () => {
    const other = createXfccPeerIdReader({ proxyAddresses: ['10.9.9.9'] });
    const arrived = once(server, 'request') as Promise<[http.IncomingMessage]>;
    const req = http.request({ host: '127.0.0.1', port, agent: false });
    req.end();
    const [incoming] = await arrived;
    refuses(other, incoming, 'untrusted-proxy', /came from "127.0.0.1"/);
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.resume();
    await once(res, 'end');
  });
});

describe('createXfccPeerIdReader: proxyId (SDK-verified mTLS peer)', () => {
  let w: World;
  let server: https.Server;
  let port: number;
  const byProxyId = createXfccPeerIdReader({ proxyId: 'spiffe://a.org/client' });
  const byWrongId = createXfccPeerIdReader({ proxyId: 'spiffe://a.org/other' });
  const byBoth = createXfccPeerIdReader({
    proxyId: 'spiffe://a.org/client',
    proxyAddresses: LOOPBACK,
  });
  const wrongAddress = createXfccPeerIdReader({
    proxyId: 'spiffe://a.org/client',
    proxyAddresses: ['10.9.9.9'],
  });
  const wrongId = createXfccPeerIdReader({
    proxyId: 'spiffe://a.org/other',
    proxyAddresses: LOOPBACK,
  });
  let results: string[] = [];

  function outcome(read: (r: XfccRequest) => unknown, req: XfccRequest): string {
    try {
      return String(read(req));
    } catch (err) {
      return (err as XfccError).reason;
    }
  }

  before(async () => {
    w = await world();
    // The application's server: the SDK verifies the proxy's X509-SVID on every connection.
    server = createHttpsServer(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny()),
      {},
      (req, res) => {
        results = [byProxyId, byWrongId, byBoth, wrongAddress, wrongId].map((read) =>
          outcome(read, req),
        );
        res.end();
      },
    );
    port = await listen(server);
  });
  after(() => close(server));

  it('accepts the proxy by its SPIFFE ID; with an address too, both must match', async () => {
    // The "proxy" connects with spiffe://a.org/client's SVID and forwards the header.
    const req = https.request({
      host: '127.0.0.1',
      port,
      ...pem(w.cliA),
      ca: pems(w.a.x509Authorities),
      checkServerIdentity: () => undefined,
      agent: false,
      headers: { 'x-forwarded-client-cert': xfcc(CLIENT) },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.resume();
    await once(res, 'end');
    assert.deepEqual(results, [
      CLIENT,
      'untrusted-proxy',
      CLIENT,
      'untrusted-proxy',
      'untrusted-proxy',
    ]);
  });

  it('refuses a connection the SDK did not verify (no mTLS peer ID)', () => {
    refuses(
      byProxyId,
      request(xfcc(CLIENT)),
      'untrusted-proxy',
      /no mTLS peer ID verified by this SDK/,
    );
  });
});
