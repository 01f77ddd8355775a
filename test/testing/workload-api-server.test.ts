import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { JwtBundle } from '../../src/bundle/jwt-bundle.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { X509Bundle } from '../../src/bundle/x509-bundle.js';
import { SpiffeId, TrustDomain } from '../../src/spiffeid/index.js';
import { parseAndValidateJwtSvid } from '../../src/svid/parse-jwt-svid.js';
import { X509Svid } from '../../src/svid/x509-svid.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';
import { TestCA } from '../../src/testing/test-ca.js';
import {
  WorkloadApiServer,
  type JwtSvidMinter,
  type WorkloadApiIdentity,
} from '../../src/testing/workload-api-server.js';
import {
  header,
  open,
  rawClient,
  status,
  fetchJwtSvid,
  validateJwtSvid,
  type RawClient,
  type StreamReader,
} from './workload-api-server.helpers.js';

const td = TrustDomain.parse('example.org');
const partnerTd = TrustDomain.parse('partner.org');

let ca: TestCA;
let partnerCa: TestCA;
let jwt: JwtAuthority;
let partnerJwt: JwtAuthority;
let web: X509Svid;
let db: X509Svid;
let identity: WorkloadApiIdentity;

before(async () => {
  [ca, partnerCa, jwt, partnerJwt] = await Promise.all([
    TestCA.create({ trustDomain: td }),
    TestCA.create({ trustDomain: partnerTd }),
    JwtAuthority.create({ trustDomain: td }),
    JwtAuthority.create({ trustDomain: partnerTd }),
  ]);
  web = await ca.issueX509Svid('spiffe://example.org/web', { hint: 'internal' });
  db = await ca.issueX509Svid('spiffe://example.org/db', { hint: 'external' });
  identity = {
    x509Svids: [web, db],
    x509Bundle: ca.x509Bundle(),
    federatedX509Bundles: [partnerCa.x509Bundle()],
    jwtAuthority: jwt,
    federatedJwtBundles: [partnerJwt.jwtBundle()],
  };
});

function der(certs: readonly X509Certificate[]): Buffer {
  return Buffer.concat(certs.map((c) => c.raw));
}

describe('WorkloadApiServer: the RPCs, through a raw gRPC client', () => {
  let server: WorkloadApiServer;
  let client: RawClient;
  before(async () => {
    server = await WorkloadApiServer.create({ identity });
    client = rawClient(server);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it('listens on a unix socket and gives its SPIFFE_ENDPOINT_SOCKET address', () => {
    assert.match(server.address, /^unix:\/\/\/.+\/agent\.sock$/);
    assert.equal(server.grpcTarget, `unix:${server.address.slice('unix://'.length)}`);
    assert.equal(server.running, true);
  });

  it('FetchX509SVID streams every SVID with key, bundle, hint, federated bundles and CRLs', async () => {
    const crl = Uint8Array.of(1, 2, 3);
    await server.updateIdentity({ crl: [crl] });
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    const msg = await reader.next();
    reader.cancel();
    await server.updateIdentity({ crl: undefined });

    assert.deepEqual(
      msg.svids.map((s) => [s.spiffeId, s.hint]),
      [
        ['spiffe://example.org/web', 'internal'],
        ['spiffe://example.org/db', 'external'],
      ],
    );
    const first = msg.svids[0]!;
    assert.deepEqual(first.x509Svid, der(web.certificates));
    assert.deepEqual(first.bundle, der(ca.x509Authorities));
    const key = createPrivateKey({ key: first.x509SvidKey, format: 'der', type: 'pkcs8' });
    assert.ok(createPublicKey(key).equals(web.certificates[0]!.publicKey));
    // The entry is a valid X509-SVID for the SDK's own parser.
    const parsed = X509Svid.parseRaw(first.x509Svid, first.x509SvidKey, { hint: first.hint });
    assert.equal(parsed.id.toString(), 'spiffe://example.org/web');
    assert.deepEqual(Object.keys(msg.federatedBundles), ['spiffe://partner.org']);
    assert.deepEqual(msg.federatedBundles['spiffe://partner.org'], der(partnerCa.x509Authorities));
    assert.deepEqual(msg.crl, [Buffer.from(crl)]);
  });

  it('FetchX509Bundles streams own and federated X.509 bundles keyed by trust-domain ID', async () => {
    const reader = open((r, md) => client.fetchX509Bundles(r, md));
    const msg = await reader.next();
    reader.cancel();
    assert.deepEqual(Object.keys(msg.bundles).sort(), [
      'spiffe://example.org',
      'spiffe://partner.org',
    ]);
    const own = X509Bundle.parseRaw(td, msg.bundles['spiffe://example.org']!);
    assert.ok(own.equals(ca.x509Bundle()));
  });

  it('FetchJWTBundles streams JWKS documents that parse back to the authorities', async () => {
    const reader = open((r, md) => client.fetchJwtBundles(r, md));
    const msg = await reader.next();
    reader.cancel();
    assert.deepEqual(Object.keys(msg.bundles).sort(), [
      'spiffe://example.org',
      'spiffe://partner.org',
    ]);
    assert.ok(JwtBundle.parse(td, msg.bundles['spiffe://example.org']!).equals(jwt.jwtBundle()));
    assert.ok(
      JwtBundle.parse(partnerTd, msg.bundles['spiffe://partner.org']!).equals(
        partnerJwt.jwtBundle(),
      ),
    );
  });

  it('FetchJWTSVID mints one token per identity for the requested audience', async () => {
    const { response, error } = await fetchJwtSvid(client, {
      audience: ['reports', 'billing'],
      spiffeId: '',
    });
    assert.equal(error, undefined);
    assert.deepEqual(
      response.svids.map((s) => [s.spiffeId, s.hint]),
      [
        ['spiffe://example.org/web', 'internal'],
        ['spiffe://example.org/db', 'external'],
      ],
    );
    const svid = await parseAndValidateJwtSvid(response.svids[0]!.svid, jwt, 'billing');
    assert.equal(svid.id.toString(), 'spiffe://example.org/web');
    assert.deepEqual([...svid.audience].sort(), ['billing', 'reports']);
  });

  it('FetchJWTSVID honours the spiffe_id filter and denies an ID the caller does not have', async () => {
    const only = await fetchJwtSvid(client, {
      audience: ['reports'],
      spiffeId: 'spiffe://example.org/db',
    });
    assert.deepEqual(
      only.response?.svids.map((s) => s.spiffeId),
      ['spiffe://example.org/db'],
    );
    const other = await fetchJwtSvid(client, {
      audience: ['reports'],
      spiffeId: 'spiffe://example.org/admin',
    });
    assert.equal(other.error?.code, status.PERMISSION_DENIED);
    const invalid = await fetchJwtSvid(client, {
      audience: ['reports'],
      spiffeId: 'spiffe://Example.org/db',
    });
    assert.equal(invalid.error?.code, status.INVALID_ARGUMENT);
  });

  it('FetchJWTSVID rejects an empty audience list or an empty audience with InvalidArgument', async () => {
    for (const audience of [[], [''], ['reports', '']]) {
      const { error } = await fetchJwtSvid(client, { audience, spiffeId: '' });
      assert.equal(error?.code, status.INVALID_ARGUMENT, JSON.stringify(audience));
      assert.match(error.details, /audience must be specified/);
    }
  });

  it('FetchJWTSVID sends a fixed token as is when one is configured', async () => {
    await server.updateIdentity({
      jwtSvids: [{ id: 'spiffe://example.org/fixed', token: 'a.b.c' }],
    });
    const { response } = await fetchJwtSvid(client, {
      audience: ['x'],
      spiffeId: '',
    });
    await server.updateIdentity({ jwtSvids: undefined });
    assert.deepEqual(response?.svids, [
      { spiffeId: 'spiffe://example.org/fixed', svid: 'a.b.c', hint: '' },
    ]);
  });

  it('ValidateJWTSVID returns the subject and claims of a valid token', async () => {
    const token = await jwt.mint({ subject: 'spiffe://example.org/web', audience: ['reports'] });
    const { response, error } = await validateJwtSvid(client, {
      audience: 'reports',
      svid: token,
    });
    assert.equal(error, undefined);
    assert.equal(response.spiffeId, 'spiffe://example.org/web');
    assert.equal(response.claims?.['sub'], 'spiffe://example.org/web');
    assert.equal(typeof response.claims['exp'], 'number');
  });

  it('ValidateJWTSVID validates federated tokens with the federated JWT bundle', async () => {
    const token = await partnerJwt.mint({
      subject: 'spiffe://partner.org/api',
      audience: 'reports',
    });
    const { response } = await validateJwtSvid(client, {
      audience: 'reports',
      svid: token,
    });
    assert.equal(response?.spiffeId, 'spiffe://partner.org/api');
  });

  it('ValidateJWTSVID answers InvalidArgument for a wrong audience, an unknown signer or missing fields', async () => {
    const good = await jwt.mint({ subject: 'spiffe://example.org/web', audience: 'reports' });
    const stranger = await JwtAuthority.create({ trustDomain: 'example.org' });
    const forged = await stranger.mint({
      subject: 'spiffe://example.org/web',
      audience: 'reports',
    });
    const cases: [string, { audience: string; svid: string }][] = [
      ['wrong audience', { audience: 'billing', svid: good }],
      ['unknown key', { audience: 'reports', svid: forged }],
      ['no audience', { audience: '', svid: good }],
      ['no token', { audience: 'reports', svid: '' }],
    ];
    for (const [name, req] of cases) {
      const { error } = await validateJwtSvid(client, req);
      assert.equal(error?.code, status.INVALID_ARGUMENT, name);
      assert.ok(
        !error.details.includes(good) && !error.details.includes(forged),
        'no token in message',
      );
    }
    // Positive control: the same token and audience pass.
    const ok = await validateJwtSvid(client, {
      audience: 'reports',
      svid: good,
    });
    assert.equal(ok.error, undefined);
  });

  it('JwtAuthority fits the JwtSvidMinter contract', () => {
    const minter: JwtSvidMinter = jwt;
    assert.ok(minter.jwtBundle().trustDomain.equals(td));
  });
});

describe('WorkloadApiServer: the security header (Workload Endpoint §3, §6)', () => {
  let server: WorkloadApiServer;
  let client: RawClient;
  before(async () => {
    server = await WorkloadApiServer.create({ identity });
    client = rawClient(server);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  type Probe = (md: ReturnType<typeof header>) => Promise<number>;
  const probes: [string, Probe][] = [
    ['FetchX509SVID', async (md) => streamCode(open((r, m) => client.fetchX509Svid(r, m), md))],
    [
      'FetchX509Bundles',
      async (md) => streamCode(open((r, m) => client.fetchX509Bundles(r, m), md)),
    ],
    ['FetchJWTBundles', async (md) => streamCode(open((r, m) => client.fetchJwtBundles(r, m), md))],
    [
      'FetchJWTSVID',
      async (md) =>
        (await fetchJwtSvid(client, { audience: ['a'], spiffeId: '' }, md)).error?.code ??
        status.OK,
    ],
    [
      'ValidateJWTSVID',
      async (md) => {
        const svid = await jwt.mint({ subject: 'spiffe://example.org/web', audience: 'a' });
        return (
          (await validateJwtSvid(client, { audience: 'a', svid }, md)).error?.code ?? status.OK
        );
      },
    ],
  ];

  async function streamCode<T>(reader: StreamReader<T>): Promise<number> {
    const result = await Promise.race([
      reader.next().then(() => status.OK),
      reader.ended.then((e) => e.code),
    ]);
    reader.cancel();
    return result;
  }

  for (const [method, probe] of probes) {
    it(`${method}: answered with "workload.spiffe.io: true", InvalidArgument otherwise`, async () => {
      assert.equal(await probe(header()), status.OK, 'positive control');
      assert.equal(await probe(header(null)), status.INVALID_ARGUMENT, 'missing');
      assert.equal(await probe(header(['True'])), status.INVALID_ARGUMENT, 'case sensitive');
      assert.equal(await probe(header(['false'])), status.INVALID_ARGUMENT, 'false');
      assert.equal(await probe(header(['true', 'true'])), status.INVALID_ARGUMENT, 'repeated');
    });
  }

  it('records the status and the reason of a rejected call', async () => {
    server.clearCalls();
    await probes[0]![1](header(null));
    const call = await server.waitForCall((c) => c.status !== undefined);
    assert.equal(call.status, 'InvalidArgument');
    assert.match(call.statusMessage, /security header/);
  });
});

describe('WorkloadApiServer: identities', () => {
  it('answers PermissionDenied on every method when there is no identity', async () => {
    await using server = await WorkloadApiServer.create();
    const client = rawClient(server);
    try {
      for (const call of [
        open((r, md) => client.fetchX509Svid(r, md)),
        open((r, md) => client.fetchX509Bundles(r, md)),
        open((r, md) => client.fetchJwtBundles(r, md)),
      ]) {
        assert.equal((await call.ended).code, status.PERMISSION_DENIED);
      }
      const jwtCall = await fetchJwtSvid(client, {
        audience: ['a'],
        spiffeId: '',
      });
      assert.equal(jwtCall.error?.code, status.PERMISSION_DENIED);
      // Positive control: the same server serves once an identity is set.
      await server.setIdentity(identity);
      const reader = open((r, md) => client.fetchX509Svid(r, md));
      assert.equal((await reader.next()).svids.length, 2);
      reader.cancel();
    } finally {
      client.close();
    }
  });

  it('uses the resolver per caller (metadata, peer), and PermissionDenied when it gives none', async () => {
    const seen: string[] = [];
    await using server = await WorkloadApiServer.create({
      identity,
      identityResolver: (caller) => {
        seen.push(`${caller.method} ${caller.peer.length > 0}`);
        const who = caller.metadata['x-workload']?.[0];
        if (who === 'web') return { x509Svids: [web], x509Bundle: ca.x509Bundle() };
        if (who === 'db') return { x509Svids: [db], x509Bundle: ca.x509Bundle() };
        return undefined;
      },
    });
    const client = rawClient(server);
    try {
      const first = async (who: string): Promise<string[]> => {
        const reader = open(
          (r, md) => client.fetchX509Svid(r, md),
          header(['true'], { 'x-workload': who }),
        );
        const msg = await reader.next();
        reader.cancel();
        return msg.svids.map((s) => s.spiffeId);
      };
      assert.deepEqual(await first('web'), ['spiffe://example.org/web']);
      assert.deepEqual(await first('db'), ['spiffe://example.org/db']);
      const nobody = open(
        (r, md) => client.fetchX509Svid(r, md),
        header(['true'], { 'x-workload': 'nobody' }),
      );
      assert.equal((await nobody.ended).code, status.PERMISSION_DENIED);
      assert.ok(seen.every((s) => s === 'FetchX509SVID true'));
      // Back to the global identity.
      await server.setIdentityResolver(undefined);
      assert.equal((await first('nobody')).length, 2);
    } finally {
      client.close();
    }
  });

  it('fails a call with Internal when the resolver throws', async () => {
    await using server = await WorkloadApiServer.create({
      identityResolver: () => {
        throw new Error('boom');
      },
    });
    const client = rawClient(server);
    const reader = open((r, md) => client.fetchX509Svid(r, md));
    const ended = await reader.ended;
    client.close();
    assert.equal(ended.code, status.INTERNAL);
    assert.match(ended.details, /identity resolver failed: boom/);
  });
});

describe('WorkloadApiServer: pushed updates and the call record', () => {
  it('pushes a rotation to every open stream, then withdraws with PermissionDenied', async () => {
    await using server = await WorkloadApiServer.create({ identity });
    const client = rawClient(server);
    try {
      const a = open((r, md) => client.fetchX509Svid(r, md));
      const b = open((r, md) => client.fetchX509Svid(r, md));
      const bundles = open((r, md) => client.fetchX509Bundles(r, md));
      await Promise.all([a.next(), b.next(), bundles.next()]);

      const rotated = await ca.issueX509Svid('spiffe://example.org/web');
      await server.updateIdentity({ x509Svids: [rotated] });
      for (const reader of [a, b]) {
        const msg = await reader.next();
        assert.deepEqual(
          msg.svids.map((s) => s.x509Svid),
          [der(rotated.certificates)],
        );
      }
      assert.deepEqual(Object.keys((await bundles.next()).bundles).sort(), [
        'spiffe://example.org',
        'spiffe://partner.org',
      ]);

      // pushUpdate re-sends the same state, scoped to one method.
      await server.pushUpdate({ method: 'FetchX509Bundles' });
      assert.ok((await bundles.next()).bundles['spiffe://example.org']);
      assert.equal(a.buffered, 0);

      // A redaction: the federated trust domain disappears from the next message.
      await server.updateIdentity({ federatedX509Bundles: undefined });
      assert.deepEqual(Object.keys((await a.next()).federatedBundles), []);

      await server.updateIdentity({ x509Svids: [] });
      assert.equal((await a.ended).code, status.PERMISSION_DENIED);
      assert.equal((await b.ended).code, status.PERMISSION_DENIED);
      bundles.cancel();

      const record = server.calls.filter((c) => c.method === 'FetchX509SVID');
      assert.deepEqual(
        record.map((c) => [c.responses, c.status, c.statusMessage]),
        [
          [3, 'PermissionDenied', 'no identity issued'],
          [3, 'PermissionDenied', 'no identity issued'],
        ],
      );
      const cancelled = await server.waitForCall(
        (c) => c.method === 'FetchX509Bundles' && c.status !== undefined,
      );
      assert.equal(cancelled.status, 'Cancelled');
      // Initial, rotation, pushUpdate, redaction, and the withdrawal of the SVIDs (bundles remain).
      assert.equal(cancelled.responses, 5);
    } finally {
      client.close();
    }
  });

  it('records method, metadata, request and status of every call', async () => {
    await using server = await WorkloadApiServer.create({ identity });
    const client = rawClient(server);
    try {
      await fetchJwtSvid(
        client,
        { audience: ['reports'], spiffeId: 'spiffe://example.org/web' },
        header(['true'], { 'x-trace': 'abc' }),
      );
      await validateJwtSvid(client, {
        audience: 'reports',
        svid: 'not-a-token',
      });
      const [fetch, validate] = server.calls;
      assert.equal(fetch?.id, 1);
      assert.equal(fetch.method, 'FetchJWTSVID');
      assert.deepEqual(fetch.metadata['workload.spiffe.io'], ['true']);
      assert.deepEqual(fetch.metadata['x-trace'], ['abc']);
      assert.deepEqual(fetch.request, {
        audience: ['reports'],
        spiffeId: 'spiffe://example.org/web',
      });
      assert.equal(fetch.status, 'OK');
      assert.equal(fetch.responses, 1);
      assert.ok(validate?.method === 'ValidateJWTSVID');
      assert.deepEqual(validate.request, { audience: 'reports', svid: 'not-a-token' });
      assert.equal(validate.status, 'InvalidArgument');
      assert.equal(validate.responses, 0);
      assert.ok(Object.isFrozen(fetch) && Object.isFrozen(fetch.metadata));
      assert.match(fetch.peer, /\S/);

      server.clearCalls();
      assert.equal(server.calls.length, 0);
    } finally {
      client.close();
    }
  });

  it('waitForCall waits for a future call and honours an abort signal', async () => {
    await using server = await WorkloadApiServer.create({ identity });
    const client = rawClient(server);
    try {
      const waiting = server.waitForCall(
        (c) => c.method === 'FetchJWTBundles' && c.responses === 1,
      );
      const reader = open((r, md) => client.fetchJwtBundles(r, md));
      const call = await waiting;
      assert.equal(call.method, 'FetchJWTBundles');
      reader.cancel();

      const controller = new AbortController();
      const never = server.waitForCall(() => false, { signal: controller.signal });
      controller.abort(new Error('stop waiting'));
      await assert.rejects(never, /stop waiting/);

      const throwing = server.waitForCall(() => {
        throw new Error('bad predicate');
      });
      await assert.rejects(throwing, /bad predicate/);
      // The server keeps serving after a predicate threw.
      const again = open((r, md) => client.fetchJwtBundles(r, md));
      assert.ok(await again.next());
      again.cancel();

      const pending = assert.rejects(
        server.waitForCall(() => false),
        InvalidArgumentError,
      );
      await server.close();
      await pending;
    } finally {
      client.close();
    }
  });

  it('mints JWT-SVIDs for each X509-SVID ID only when a JWT authority is set', async () => {
    await using server = await WorkloadApiServer.create({
      identity: { x509Svids: [web], x509Bundle: ca.x509Bundle() },
    });
    const client = rawClient(server);
    try {
      const none = await fetchJwtSvid(client, { audience: ['a'], spiffeId: '' });
      assert.equal(none.error?.code, status.PERMISSION_DENIED);
      await server.updateIdentity({ jwtAuthority: jwt });
      const some = await fetchJwtSvid(client, { audience: ['a'], spiffeId: '' });
      assert.deepEqual(
        some.response?.svids.map((s) => s.spiffeId),
        [web.id.toString()],
      );
      // An explicit JWT identity without an authority or token is a test-setup error: Internal.
      await server.setIdentity({ jwtSvids: [{ id: SpiffeId.parse('spiffe://example.org/x') }] });
      const broken = await fetchJwtSvid(client, {
        audience: ['a'],
        spiffeId: '',
      });
      assert.equal(broken.error?.code, status.INTERNAL);
      assert.match(broken.error.details, /no jwtAuthority/);
    } finally {
      client.close();
    }
  });
});
