// jwtSvidAuthorization and jwtSvidFetch: the header they add, what they refuse (plain HTTP, an
// existing Authorization header), and end to end against withJwtSvidAuth with Node's fetch,
// undici's fetch and a Workload API JwtSource whose cache serves repeated requests.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  createJwtSvidAuthenticator,
  jwtSvidAuthorization,
  jwtSvidFetch,
  jwtSvidOf,
  withJwtSvidAuth,
} from '../../src/http/index.js';
import { SpiffeId } from '../../src/spiffeid/index.js';
import type { JwtSvid, JwtSvidParams, JwtSvidSource } from '../../src/svid/index.js';
import { TestCA } from '../../src/testing/test-ca.js';
import { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import { JwtSource } from '../../src/workloadapi/index.js';
import { AUD, listen, shut, WEB, world } from './jwt-helpers.js';

/** A JwtSvidSource that mints a token per call and records what it was asked. */
class RecordingSource implements JwtSvidSource {
  readonly asked: { params: JwtSvidParams; signal: AbortSignal | undefined }[] = [];
  async fetchJwtSvid(
    params: JwtSvidParams,
    options?: { readonly signal?: AbortSignal },
  ): Promise<JwtSvid> {
    this.asked.push({ params, signal: options?.signal });
    const { authority } = await world();
    return authority.mintSvid({ subject: WEB, audience: params.audience });
  }
}

/** A fetch that records its arguments and answers 204. */
function recordingFetch(): {
  fetch: typeof fetch;
  calls: { input: unknown; headers: Headers; init: RequestInit | undefined }[];
} {
  const calls: { input: unknown; headers: Headers; init: RequestInit | undefined }[] = [];
  const fake = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls.push({ input, headers: new Headers(init?.headers), init });
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  return { fetch: fake, calls };
}

const URL_OK = 'https://reports.example.org/v1/summary?q=1';

describe('jwtSvidAuthorization', () => {
  it('returns "Bearer <token>" for the audience, passing the signal', async () => {
    const source = new RecordingSource();
    const signal = new AbortController().signal;
    const value = await jwtSvidAuthorization(
      source,
      { audience: AUD, extraAudiences: ['x'] },
      { signal },
    );
    assert.match(value, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(source.asked[0]?.params, { audience: AUD, extraAudiences: ['x'] });
    assert.equal(source.asked[0].signal, signal);
  });

  it('refuses a source without fetchJwtSvid and an empty audience', async () => {
    await assert.rejects(
      jwtSvidAuthorization({} as never, { audience: AUD }),
      InvalidArgumentError,
    );
    await assert.rejects(
      jwtSvidAuthorization(new RecordingSource(), { audience: '' }),
      InvalidArgumentError,
    );
  });
});

describe('jwtSvidFetch', () => {
  it('adds Authorization to an https request and keeps the other headers', async () => {
    const source = new RecordingSource();
    const { fetch, calls } = recordingFetch();
    const f = jwtSvidFetch(source, { audience: AUD, fetch, subject: SpiffeId.parse(WEB) });
    const res = await f(URL_OK, { method: 'POST', headers: { 'x-trace': '1' }, body: 'b' });
    assert.equal(res.status, 204);
    const call = calls[0];
    assert.ok(call !== undefined);
    assert.equal(call.input, URL_OK);
    assert.match(call.headers.get('authorization') ?? '', /^Bearer ey/);
    assert.equal(call.headers.get('x-trace'), '1');
    assert.equal(call.init?.method, 'POST');
    assert.equal(call.init.body, 'b');
    assert.deepEqual(Object.keys(source.asked[0]?.params ?? {}).sort(), ['audience', 'subject']);
  });

  it('keeps the headers of a Request input, unless init.headers replaces them (as fetch does)', async () => {
    const { fetch, calls } = recordingFetch();
    const f = jwtSvidFetch(new RecordingSource(), { audience: AUD, fetch });
    const request = new Request(URL_OK, { headers: { 'x-from-request': 'r' } });
    await f(request);
    assert.equal(calls[0]?.input, request);
    assert.equal(calls[0].headers.get('x-from-request'), 'r');
    assert.ok(calls[0].headers.has('authorization'));
    await f(request, { headers: { 'x-from-init': 'i' } });
    assert.equal(calls[1]?.headers.get('x-from-request'), null);
    assert.equal(calls[1].headers.get('x-from-init'), 'i');
    assert.ok(calls[1].headers.has('authorization'));
    await f(new URL(URL_OK));
    assert.ok(calls[2]?.headers.has('authorization'));
  });

  it('refuses to replace an existing Authorization header, in any shape', async () => {
    const source = new RecordingSource();
    const { fetch, calls } = recordingFetch();
    const f = jwtSvidFetch(source, { audience: AUD, fetch });
    const existing = [
      { headers: { Authorization: 'Basic x' } },
      { headers: [['authorization', 'Bearer other']] as [string, string][] },
      { headers: new Headers({ AUTHORIZATION: 'x' }) },
    ];
    for (const init of existing) {
      await assert.rejects(f(URL_OK, init), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /already has an Authorization header/);
        return true;
      });
    }
    await assert.rejects(
      f(new Request(URL_OK, { headers: { authorization: 'x' } })),
      InvalidArgumentError,
    );
    assert.equal(calls.length, 0);
    assert.equal(source.asked.length, 0, 'no token was fetched');
  });

  it('refuses plain http unless allowInsecureHttp, and other schemes always', async () => {
    const source = new RecordingSource();
    const { fetch, calls } = recordingFetch();
    const strict = jwtSvidFetch(source, { audience: AUD, fetch });
    await assert.rejects(strict('http://reports.example.org/secret?k=v'), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(
        err.message,
        /to http:\/\/reports\.example\.org: bearer tokens must travel over TLS/,
      );
      assert.ok(!err.message.includes('secret'), 'no path or query in the message');
      return true;
    });
    await assert.rejects(strict(new Request('http://reports.example.org/')), InvalidArgumentError);
    assert.equal(source.asked.length, 0);

    const lax = jwtSvidFetch(source, { audience: AUD, fetch, allowInsecureHttp: true });
    await lax('http://127.0.0.1:1/');
    assert.equal(calls.length, 1, 'control: allowed with the opt-in');
    for (const url of ['ftp://reports.example.org/', 'ws://reports.example.org/', 'data:,x']) {
      await assert.rejects(lax(url), InvalidArgumentError, url);
    }
    for (const input of ['/relative', 42]) {
      await assert.rejects(lax(input as string), InvalidArgumentError);
    }
    assert.equal(calls.length, 1);
  });

  it('passes the request signal to the source', async () => {
    const source = new RecordingSource();
    const { fetch } = recordingFetch();
    const f = jwtSvidFetch(source, { audience: AUD, fetch });
    const fromInit = new AbortController().signal;
    await f(URL_OK, { signal: fromInit });
    assert.equal(source.asked[0]?.signal, fromInit);
    const request = new Request(URL_OK, { signal: new AbortController().signal });
    await f(request);
    assert.ok(source.asked[1]?.signal !== undefined, 'the Request signal');
    await f(URL_OK);
    assert.equal(source.asked[2]?.signal, undefined);
  });

  it('checks its options', () => {
    const source = new RecordingSource();
    assert.throws(() => jwtSvidFetch({} as never, { audience: AUD }), InvalidArgumentError);
    assert.throws(() => jwtSvidFetch(source, { audience: '' }), InvalidArgumentError);
    assert.throws(
      () => jwtSvidFetch(source, { audience: AUD, fetch: 'fetch' as never }),
      InvalidArgumentError,
    );
  });
});

describe('end to end', () => {
  let agent: WorkloadApiServer;
  let source: JwtSource;
  let server: http.Server;
  let base: string;

  before(async () => {
    const { authority } = await world();
    const ca = await TestCA.create({ trustDomain: 'example.org' });
    agent = await WorkloadApiServer.create({
      identity: {
        x509Svids: [await ca.issueX509Svid(WEB)],
        x509Bundle: ca.x509Bundle(),
        jwtAuthority: authority,
      },
    });
    source = await JwtSource.create({ address: agent.address, timeout: 10_000 });
    const authenticator = createJwtSvidAuthenticator({ bundleSource: source, audience: AUD });
    server = http.createServer(
      withJwtSvidAuth(authenticator, (req, res) => {
        res.end(jwtSvidOf(req)?.id.toString());
      }),
    );
    base = await listen(server);
  });

  after(async () => {
    await shut(server);
    await source.close();
    await agent.close();
  });

  it('authenticates with Node fetch and undici fetch; the JwtSource caches the token', async () => {
    agent.clearCalls();
    const nodeFetch = jwtSvidFetch(source, { audience: AUD, allowInsecureHttp: true });
    const viaUndici = jwtSvidFetch(source, {
      audience: AUD,
      allowInsecureHttp: true,
      fetch: undiciFetch,
    });
    for (const f of [nodeFetch, nodeFetch]) {
      const res = await f(`${base}/`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), WEB);
    }
    const res = await viaUndici(`${base}/`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), WEB);
    const fetches = agent.calls.filter((c) => c.method === 'FetchJWTSVID').length;
    assert.equal(fetches, 1, 'three requests, one Workload API call');
    // Control: without the wrapper the server refuses.
    const plain = await fetch(`${base}/`);
    assert.equal(plain.status, 401);
    await plain.body?.cancel();
  });
});
