// JWT-SVIDs on gRPC: call credentials add `authorization: Bearer <token>` to every call from a
// (cached) JWT source; the server interceptor validates it before any handler runs and refuses
// with UNAUTHENTICATED (absent or invalid) or PERMISSION_DENIED (authorizer), never echoing the
// token.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  credentials,
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';
import {
  InvalidArgumentError,
  JwtSvidAuthError,
  jwtSvidCallCredentials,
  jwtSvidServerInterceptor,
  mtlsClientCredentials,
  mtlsServerCredentials,
} from '../../src/grpc/index.js';
import type { JwtSvid } from '../../src/svid/jwt-svid.js';
import type { JwtSvidParams, JwtSvidSource } from '../../src/svid/jwt-svid-source.js';
import { JwtAuthority, WorkloadApiServer } from '../../src/testing/index.js';
import { authorizeAny, authorizeId, mtlsServer, staticX509Source } from '../../src/tls/index.js';
import { JwtSource } from '../../src/workloadapi/index.js';
import { type World, world } from '../tls/helpers.js';
import {
  assertOk,
  assertRefused,
  bound,
  chat,
  client,
  hello,
  injected,
  type Running,
} from './helpers.js';

const AUDIENCE = 'spiffe://a.org/server';
const CLIENT_ID = 'spiffe://a.org/client';

let w: World;
let authority: JwtAuthority;

before(async () => {
  w = await world();
  authority = await JwtAuthority.create({ trustDomain: 'a.org' });
});

/** A JWT-SVID source minting tokens for `subject` from `signer`, counting fetches. */
function mintingSource(
  subject = CLIENT_ID,
  signer: JwtAuthority = authority,
): JwtSvidSource & { fetches: number } {
  const src = {
    fetches: 0,
    fetchJwtSvid(params: JwtSvidParams): Promise<JwtSvid> {
      src.fetches += 1;
      return signer.mintSvid({ subject, audience: params.audience });
    },
  };
  return src;
}

function mtlsServerWithJwt(
  options: Partial<Parameters<typeof jwtSvidServerInterceptor>[0]> = {},
  extra: ServerInterceptor[] = [],
): Promise<Running> {
  return bound(mtlsServerCredentials(staticX509Source(w.srvA, w.bundles), authorizeAny()), [
    jwtSvidServerInterceptor({ bundleSource: authority, audience: AUDIENCE, ...options }),
    ...extra,
  ]);
}

function channel(jwt?: JwtSvidSource, audience = AUDIENCE) {
  const tls = mtlsClientCredentials(staticX509Source(w.cliA, w.bundles), authorizeId(AUDIENCE));
  return jwt === undefined ? tls : tls.compose(jwtSvidCallCredentials(jwt, { audience }));
}

/** Runs `fn` with a client of `running`, then closes both. */
async function withClient(
  running: Running,
  jwt: JwtSvidSource | undefined,
  fn: (c: ReturnType<typeof client>) => Promise<void>,
  audience = AUDIENCE,
): Promise<void> {
  const c = client(running.port, channel(jwt, audience));
  try {
    await fn(c);
  } finally {
    c.close();
    await running.stop();
  }
}

describe('jwtSvidCallCredentials', () => {
  it('adds "authorization: Bearer <token>" to every call', async () => {
    const headers: string[] = [];
    const capture: ServerInterceptor = (_method, call) =>
      new ServerInterceptingCall(call, {
        start: (next) => {
          next({
            onReceiveMetadata: (metadata, pass) => {
              headers.push(...metadata.get('authorization').map(String));
              pass(metadata);
            },
          });
        },
      });
    const src = mintingSource();
    const running = await bound(
      mtlsServerCredentials(staticX509Source(w.srvA, w.bundles), authorizeAny()),
      [capture],
    );
    await withClient(running, src, async (c) => {
      assertOk(await hello(c));
      assertOk(await hello(c));
      assert.equal(headers.length, 2);
      for (const header of headers) assert.match(header, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      assert.equal(src.fetches, 2, 'this source does not cache: one token per call');
    });
  });

  it('uses the cached token of a JwtSource: one Workload API call for many RPCs', async () => {
    await using agent = await WorkloadApiServer.create({
      identity: { x509Svids: [w.cliA], x509Bundle: w.a.x509Bundle(), jwtAuthority: authority },
    });
    await using jwtSource = await JwtSource.create({ address: agent.address, timeout: 10_000 });
    const running = await mtlsServerWithJwt({ bundleSource: jwtSource });
    await withClient(running, jwtSource, async (c) => {
      for (let i = 0; i < 5; i++) assert.equal(assertOk(await hello(c)).jwtId, CLIENT_ID);
      assert.equal(agent.calls.filter((call) => call.method === 'FetchJWTSVID').length, 1);
    });
  });

  it('fails the call without reaching the server when the source fails', async () => {
    const broken: JwtSvidSource = {
      fetchJwtSvid: () => Promise.reject(new Error('agent unavailable')),
    };
    const running = await mtlsServerWithJwt();
    await withClient(running, broken, async (c) => {
      const details = assertRefused(await hello(c), status.UNKNOWN);
      assert.match(details, /agent unavailable/);
      assert.equal(running.recorder.invocations, 0);
    });
  });

  it('cannot be composed with insecure channel credentials (grpc-js refuses)', () => {
    assert.throws(() =>
      credentials
        .createInsecure()
        .compose(jwtSvidCallCredentials(mintingSource(), { audience: AUDIENCE })),
    );
  });

  it('refuses a source without fetchJwtSvid and an empty audience', () => {
    assert.throws(
      () => jwtSvidCallCredentials({} as JwtSvidSource, { audience: AUDIENCE }),
      InvalidArgumentError,
    );
    assert.throws(
      () => jwtSvidCallCredentials(mintingSource(), { audience: '' }),
      InvalidArgumentError,
    );
  });
});

describe('jwtSvidServerInterceptor', () => {
  it('accepts a valid token; the handler sees the JWT-SVID and the X.509 peer', async () => {
    const running = await mtlsServerWithJwt();
    await withClient(running, mintingSource(), async (c) => {
      const seen = assertOk(await hello(c));
      assert.equal(seen.jwtId, CLIENT_ID);
      assert.equal(seen.peerId, CLIENT_ID);
    });
  });

  it('refuses a call without a token with UNAUTHENTICATED before the handler', async () => {
    const running = await mtlsServerWithJwt();
    await withClient(running, undefined, async (c) => {
      assertRefused(await hello(c), status.UNAUTHENTICATED);
      assertRefused(await chat(c), status.UNAUTHENTICATED);
      assert.equal(running.recorder.invocations, 0);
    });
  });

  it('refuses a token for another audience, and never echoes the token', async () => {
    const rejected: Error[] = [];
    const src = mintingSource();
    const running = await mtlsServerWithJwt({ onReject: (err) => rejected.push(err) });
    let token = '';
    const spy: JwtSvidSource = {
      fetchJwtSvid: async (params) => {
        const svid = await src.fetchJwtSvid(params);
        token = svid.marshal();
        return svid;
      },
    };
    await withClient(
      running,
      spy,
      async (c) => {
        const details = assertRefused(await hello(c), status.UNAUTHENTICATED);
        assert.ok(token !== '' && !details.includes(token));
        assert.equal(running.recorder.invocations, 0);
        assert.ok(rejected[0] instanceof JwtSvidAuthError);
        assert.equal(rejected[0].reason, 'invalid-token');
        assert.ok(!rejected[0].message.includes(token));
      },
      'spiffe://a.org/someone-else',
    );
  });

  it('refuses a token signed by a key that is not in the bundle', async () => {
    const rogue = await JwtAuthority.create({ trustDomain: 'a.org' });
    const running = await mtlsServerWithJwt();
    await withClient(running, mintingSource(CLIENT_ID, rogue), async (c) => {
      assertRefused(await hello(c), status.UNAUTHENTICATED);
      assert.equal(running.recorder.invocations, 0);
    });
  });

  it('refuses a caller the authorizer denies with PERMISSION_DENIED before the handler', async () => {
    // An asynchronous authorizer, as policy lookups often are.
    const authorize = (id: { path: string }): Promise<boolean> =>
      Promise.resolve(id.path === '/client');
    const denied = await mtlsServerWithJwt({ authorize });
    await withClient(denied, mintingSource('spiffe://a.org/intruder'), async (c) => {
      const details = assertRefused(await hello(c), status.PERMISSION_DENIED);
      assert.match(details, /spiffe:\/\/a\.org\/intruder/);
      assertRefused(await chat(c), status.PERMISSION_DENIED);
      assert.equal(denied.recorder.invocations, 0);
    });
    // Positive control: the same authorizer allows /client, for unary and streaming calls.
    const allowed = await mtlsServerWithJwt({ authorize });
    await withClient(allowed, mintingSource(), async (c) => {
      assertOk(await hello(c));
      assert.equal(assertOk(await chat(c)).jwtId, CLIENT_ID);
    });
  });

  it('works behind createGrpcTlsServer too', async () => {
    const running = await injected(
      mtlsServer(staticX509Source(w.srvA, w.bundles), authorizeAny()),
      [jwtSvidServerInterceptor({ bundleSource: authority, audience: AUDIENCE })],
    );
    await withClient(running, mintingSource(), async (c) => {
      const seen = assertOk(await hello(c));
      assert.deepEqual([seen.jwtId, seen.peerId], [CLIENT_ID, CLIENT_ID]);
    });
  });

  it('ignores a bearer token sent as another metadata key', async () => {
    const running = await mtlsServerWithJwt();
    const c = client(running.port, channel());
    try {
      const svid = await authority.mintSvid({ subject: CLIENT_ID, audience: AUDIENCE });
      const metadata = new Metadata();
      metadata.set('x-authorization', `Bearer ${svid.marshal()}`);
      assertRefused(await hello(c, metadata), status.UNAUTHENTICATED);
      const proper = new Metadata();
      proper.set('authorization', `Bearer ${svid.marshal()}`);
      assert.equal(assertOk(await hello(c, proper)).jwtId, CLIENT_ID);
    } finally {
      c.close();
      await running.stop();
    }
  });

  it('refuses bad options', () => {
    assert.throws(
      () =>
        jwtSvidServerInterceptor({
          bundleSource: authority,
          audience: AUDIENCE,
          onReject: 'log' as unknown as () => void,
        }),
      InvalidArgumentError,
    );
    assert.throws(
      () => jwtSvidServerInterceptor({ bundleSource: authority, audience: [] }),
      InvalidArgumentError,
    );
  });
});
