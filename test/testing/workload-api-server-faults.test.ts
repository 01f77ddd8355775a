import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import type { X509Svid } from '../../src/svid/x509-svid.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';
import { TestCA } from '../../src/testing/test-ca.js';
import {
  WorkloadApiServer,
  type WorkloadApiIdentity,
  type WorkloadApiMalformation,
  type WorkloadApiMethod,
  type WorkloadApiStatus,
} from '../../src/testing/workload-api-server.js';
import type {
  JWTBundlesResponse,
  JWTSVIDResponse,
  X509BundlesResponse,
  X509SVIDResponse,
} from '../../src/workloadapi/gen/workload.js';
import {
  fetchJwtSvid,
  header,
  open,
  rawClient,
  status,
  validateJwtSvid,
  type RawClient,
  type StreamReader,
} from './workload-api-server.helpers.js';

let identity: WorkloadApiIdentity;
let server: WorkloadApiServer;
let client: RawClient;
let web: X509Svid;
let jwt: JwtAuthority;

before(async () => {
  const [ca, partnerCa, authority] = await Promise.all([
    TestCA.create({ trustDomain: 'example.org' }),
    TestCA.create({ trustDomain: 'partner.org' }),
    JwtAuthority.create({ trustDomain: 'example.org' }),
  ]);
  jwt = authority;
  web = await ca.issueX509Svid('spiffe://example.org/web', { hint: 'internal' });
  identity = {
    x509Svids: [web],
    x509Bundle: ca.x509Bundle(),
    federatedX509Bundles: [partnerCa.x509Bundle()],
    jwtAuthority: jwt,
  };
  server = await WorkloadApiServer.create({ identity });
  client = rawClient(server);
});
after(async () => {
  client.close();
  await server.close();
});
beforeEach(async () => {
  server.clearFaults();
  // Streams cancelled by the previous test end on the server a moment later; wait for them so
  // that every test starts with no open call.
  for (const open of server.calls.filter((c) => c.status === undefined)) {
    await server.waitForCall((c) => c.id === open.id && c.status !== undefined);
  }
  server.clearCalls();
});

/** The status a fresh call of `method` ends with, or OK when it answered. */
async function outcome(method: WorkloadApiMethod): Promise<number> {
  const stream = async <T>(reader: StreamReader<T>): Promise<number> => {
    const code = await Promise.race([
      reader.next().then(() => status.OK),
      reader.ended.then((e) => e.code),
    ]);
    reader.cancel();
    return code;
  };
  switch (method) {
    case 'FetchX509SVID':
      return stream(open((r, md) => client.fetchX509Svid(r, md)));
    case 'FetchX509Bundles':
      return stream(open((r, md) => client.fetchX509Bundles(r, md)));
    case 'FetchJWTBundles':
      return stream(open((r, md) => client.fetchJwtBundles(r, md)));
    case 'FetchJWTSVID':
      return (
        (await fetchJwtSvid(client, { audience: ['a'], spiffeId: '' })).error?.code ?? status.OK
      );
    case 'ValidateJWTSVID': {
      const svid = await jwt.mint({ subject: 'spiffe://example.org/web', audience: 'a' });
      return (await validateJwtSvid(client, { audience: 'a', svid })).error?.code ?? status.OK;
    }
  }
}

const METHODS: WorkloadApiMethod[] = [
  'FetchX509SVID',
  'FetchX509Bundles',
  'FetchJWTSVID',
  'FetchJWTBundles',
  'ValidateJWTSVID',
];
const INJECTED: [Exclude<WorkloadApiStatus, 'OK'>, number][] = [
  ['PermissionDenied', status.PERMISSION_DENIED],
  ['Unavailable', status.UNAVAILABLE],
  ['InvalidArgument', status.INVALID_ARGUMENT],
];

describe('WorkloadApiServer.failWith', () => {
  for (const method of METHODS) {
    it(`${method}: answers each injected status, then serves again after clearFaults`, async () => {
      assert.equal(await outcome(method), status.OK, 'positive control');
      for (const [name, code] of INJECTED) {
        server.failWith(name, { method });
        assert.equal(await outcome(method), code, name);
        server.clearFaults();
      }
      assert.equal(await outcome(method), status.OK);
    });
  }

  it('applies to the named method only, and to every method without one', async () => {
    server.failWith('Unavailable', { method: ['FetchX509SVID', 'FetchJWTSVID'] });
    assert.equal(await outcome('FetchX509SVID'), status.UNAVAILABLE);
    assert.equal(await outcome('FetchJWTSVID'), status.UNAVAILABLE);
    assert.equal(await outcome('FetchX509Bundles'), status.OK);
    server.clearFaults();
    server.failWith('PermissionDenied');
    for (const method of METHODS) assert.equal(await outcome(method), status.PERMISSION_DENIED);
  });

  it('counts down `times`, and records the injected status and message', async () => {
    server.failWith('Unavailable', {
      method: 'FetchX509SVID',
      times: 2,
      message: 'agent starting',
    });
    assert.equal(await outcome('FetchX509SVID'), status.UNAVAILABLE);
    assert.equal(await outcome('FetchX509SVID'), status.UNAVAILABLE);
    assert.equal(await outcome('FetchX509SVID'), status.OK);
    await server.waitForCall((c) => c.status === 'Cancelled');
    assert.deepEqual(
      server.calls.map((c) => [c.status, c.statusMessage]),
      [
        ['Unavailable', 'agent starting'],
        ['Unavailable', 'agent starting'],
        ['Cancelled', 'cancelled by the client'],
      ],
    );
  });

  it('comes after the security-header check', async () => {
    server.failWith('Unavailable', { times: 1 });
    const reader = open((r, md) => client.fetchX509Svid(r, md), header(null));
    assert.equal((await reader.ended).code, status.INVALID_ARGUMENT);
    // The injected failure was not used up by the rejected call.
    assert.equal(await outcome('FetchX509SVID'), status.UNAVAILABLE);
    assert.equal(await outcome('FetchX509SVID'), status.OK);
  });

  it('rejects bad arguments with InvalidArgumentError', () => {
    assert.throws(() => {
      server.failWith('OK' as 'Unavailable');
    }, InvalidArgumentError);
    assert.throws(() => {
      server.failWith('Nope' as 'Unavailable');
    }, InvalidArgumentError);
    assert.throws(() => {
      server.failWith('Unavailable', { times: 0 });
    }, InvalidArgumentError);
    assert.throws(() => {
      server.failWith('Unavailable', { times: 1.5 });
    }, InvalidArgumentError);
    assert.throws(() => {
      server.failWith('Unavailable', { method: 'FetchWITSVID' as WorkloadApiMethod });
    }, InvalidArgumentError);
    server.failWith('Unavailable', { times: 1, method: 'FetchX509SVID' }); // positive control
  });
});

describe('WorkloadApiServer.closeStreams', () => {
  it('ends open streams normally, or with a status, and leaves unary calls alone', async () => {
    const a = open((r, md) => client.fetchX509Svid(r, md));
    const b = open((r, md) => client.fetchJwtBundles(r, md));
    await Promise.all([a.next(), b.next()]);
    assert.equal(server.closeStreams({ method: 'FetchX509SVID' }), 1);
    assert.equal((await a.ended).code, status.OK);
    assert.equal(b.buffered, 0);
    assert.equal(server.closeStreams({ status: 'PermissionDenied', message: 'entry deleted' }), 1);
    const ended = await b.ended;
    assert.deepEqual([ended.code, ended.details], [status.PERMISSION_DENIED, 'entry deleted']);
    assert.equal(server.closeStreams(), 0);
    // New calls are served as usual.
    assert.equal(await outcome('FetchX509SVID'), status.OK);
  });
});

describe('WorkloadApiServer.delayResponses', () => {
  it('holds the first response until the given promise settles', async () => {
    let release!: () => void;
    server.delayResponses(new Promise<void>((r) => (release = r)), {
      method: 'FetchX509SVID',
      times: 1,
    });
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    const call = await server.waitForCall((c) => c.method === 'FetchX509SVID');
    assert.equal(call.responses, 0);
    assert.equal(reader.buffered, 0);
    release();
    const msg = await reader.next();
    assert.equal(msg.svids.length, 1);
    reader.cancel();
  });

  it('holds unary answers and pushed updates too; a numeric delay lasts at least that long', async () => {
    server.delayResponses(40, { method: 'FetchJWTSVID' });
    const started = performance.now();
    const answer = await fetchJwtSvid(client, { audience: ['a'], spiffeId: '' });
    assert.ok(performance.now() - started >= 35, 'delayed');
    assert.equal(answer.response?.svids.length, 1);

    const reader = open((r, md) => client.fetchX509Bundles(r, md));
    await reader.next();
    let release!: () => void;
    server.delayResponses(new Promise<void>((r) => (release = r)), {
      method: 'FetchX509Bundles',
      times: 1,
    });
    const pushed = server.pushUpdate({ method: 'FetchX509Bundles' });
    assert.equal(reader.buffered, 0);
    release();
    await pushed;
    await reader.next();
    reader.cancel();
  });

  it('does not keep a stopped call waiting', async () => {
    server.delayResponses(new Promise(() => undefined), { method: 'FetchX509SVID', times: 1 });
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    await server.waitForCall((c) => c.method === 'FetchX509SVID');
    assert.equal(server.closeStreams({ status: 'Unavailable' }), 1);
    assert.equal((await reader.ended).code, status.UNAVAILABLE);
  });

  it('rejects a negative or non-finite delay', () => {
    assert.throws(() => {
      server.delayResponses(-1);
    }, InvalidArgumentError);
    assert.throws(() => {
      server.delayResponses(Number.NaN);
    }, InvalidArgumentError);
    server.delayResponses(0, { times: 1 }); // positive control
  });
});

describe('WorkloadApiServer.malformResponses', () => {
  async function x509(): Promise<X509SVIDResponse> {
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    const msg = await reader.next();
    reader.cancel();
    return msg;
  }
  async function x509Bundles(): Promise<X509BundlesResponse> {
    const reader = open((r, md) => client.fetchX509Bundles(r, md));
    const msg = await reader.next();
    reader.cancel();
    return msg;
  }
  async function jwtBundles(): Promise<JWTBundlesResponse> {
    const reader = open((r, md) => client.fetchJwtBundles(r, md));
    const msg = await reader.next();
    reader.cancel();
    return msg;
  }
  async function jwtSvids(): Promise<JWTSVIDResponse> {
    const { response } = await fetchJwtSvid(client, { audience: ['a'], spiffeId: '' });
    assert.ok(response);
    return response;
  }
  const isDer = (b: Uint8Array): boolean => b.length > 0 && b[0] === 0x30 && b.length > 5;
  const isJson = (b: Uint8Array): boolean => {
    try {
      JSON.parse(Buffer.from(b).toString());
      return true;
    } catch {
      return false;
    }
  };

  // Each check holds for a good response (the positive control) and fails after the malformation.
  const cases: [WorkloadApiMalformation, () => Promise<boolean>][] = [
    [
      'empty-svids',
      async () => (await x509()).svids.length > 0 && (await jwtSvids()).svids.length > 0,
    ],
    [
      'empty-spiffe-id',
      async () =>
        (await x509()).svids.every((s) => s.spiffeId !== '') &&
        (await jwtSvids()).svids.every((s) => s.spiffeId !== ''),
    ],
    ['empty-x509-svid', async () => (await x509()).svids.every((s) => s.x509Svid.length > 0)],
    ['empty-key', async () => (await x509()).svids.every((s) => s.x509SvidKey.length > 0)],
    [
      'empty-bundle',
      async () => {
        const r = await x509();
        return (
          r.svids.every((s) => s.bundle.length > 0) &&
          Object.values(r.federatedBundles).every((b) => b.length > 0) &&
          Object.values((await x509Bundles()).bundles).every((b) => b.length > 0) &&
          Object.values((await jwtBundles()).bundles).every((b) => b.length > 0)
        );
      },
    ],
    [
      'no-bundles',
      async () =>
        Object.keys((await x509()).federatedBundles).length > 0 &&
        Object.keys((await x509Bundles()).bundles).length > 0 &&
        Object.keys((await jwtBundles()).bundles).length > 0,
    ],
    [
      'bad-der',
      async () => {
        const r = await x509();
        return (
          r.svids.every((s) => isDer(s.x509Svid) && isDer(s.x509SvidKey) && isDer(s.bundle)) &&
          Object.values(r.federatedBundles).every(isDer) &&
          Object.values((await x509Bundles()).bundles).every(isDer)
        );
      },
    ],
    ['bad-jwks', async () => Object.values((await jwtBundles()).bundles).every(isJson)],
    [
      'bad-bundle-key',
      async () => {
        const keys = [
          ...Object.keys((await x509()).federatedBundles),
          ...Object.keys((await x509Bundles()).bundles),
          ...Object.keys((await jwtBundles()).bundles),
        ];
        return keys.every((k) => /^spiffe:\/\/[a-z0-9.-]+$/.test(k));
      },
    ],
    [
      'bad-token',
      async () => (await jwtSvids()).svids.every((s) => s.svid.split('.').length === 3),
    ],
  ];

  for (const [kind, wellFormed] of cases) {
    it(`${kind}: damages the responses it names`, async () => {
      assert.equal(await wellFormed(), true, 'positive control');
      server.malformResponses(kind);
      assert.equal(await wellFormed(), false);
    });
  }

  it('with `times`, damages only the next pushed update of an open stream', async () => {
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    assert.equal((await reader.next()).svids.length, 1);
    server.malformResponses('empty-svids', { method: 'FetchX509SVID', times: 1 });
    await server.pushUpdate();
    assert.equal((await reader.next()).svids.length, 0);
    await server.pushUpdate();
    assert.equal((await reader.next()).svids.length, 1);
    reader.cancel();
  });

  it('rejects an unknown kind', () => {
    assert.throws(() => {
      server.malformResponses('everything' as WorkloadApiMalformation);
    }, InvalidArgumentError);
  });
});

describe('WorkloadApiServer.rewriteResponses', () => {
  it('passes each response through the rewrite before sending it', async () => {
    server.rewriteResponses('FetchX509SVID', (r) => {
      r.svids.push({ ...r.svids[0]!, hint: 'copy' });
      return r;
    });
    server.rewriteResponses(
      'FetchJWTBundles',
      (r) => ({
        bundles: { ...r.bundles, 'spiffe://extra.org': new TextEncoder().encode('{"keys":[]}') },
      }),
      { times: 1 },
    );
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    const msg = await reader.next();
    reader.cancel();
    assert.deepEqual(
      msg.svids.map((s) => s.hint),
      ['internal', 'copy'],
    );
    const jwtReader = open((r, md) => client.fetchJwtBundles(r, md));
    assert.deepEqual(Object.keys((await jwtReader.next()).bundles).sort(), [
      'spiffe://example.org',
      'spiffe://extra.org',
    ]);
    await server.pushUpdate({ method: 'FetchJWTBundles' });
    assert.deepEqual(Object.keys((await jwtReader.next()).bundles), ['spiffe://example.org']);
    jwtReader.cancel();
  });

  it('turns a throwing rewrite into an Internal status', async () => {
    server.rewriteResponses('FetchX509Bundles', () => {
      throw new Error('rewrite failed');
    });
    const reader = open((r, md) => client.fetchX509Bundles(r, md));
    const ended = await reader.ended;
    assert.equal(ended.code, status.INTERNAL);
    assert.match(ended.details, /rewrite failed/);
  });
});
