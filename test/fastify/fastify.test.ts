// fastifyJwtSvidAuth on a real Fastify 5 server on 127.0.0.1 (and through inject): status,
// challenge and body of refusals, whether the route ran, request.spiffe, the plugin's scope
// (skip-override), and forwarding to the error handler.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { JwtSvidAuthError } from '../../src/errors.js';
import { fastifyJwtSvidAuth } from '../../src/fastify/index.js';
import { createJwtSvidAuthenticator, type JwtSvidAuthenticator } from '../../src/http/index.js';
import { matchId, SpiffeId } from '../../src/spiffeid/index.js';
import type { JwtAuthority } from '../../src/testing/jwt-authority.js';
import {
  assertOnlyValidCallerAccepted,
  AUD,
  bearer,
  DB,
  mint,
  send,
  WEB,
  world,
} from '../http/jwt-helpers.js';

let authority: JwtAuthority;
let authenticator: JwtSvidAuthenticator;
let token: string;

before(async () => {
  ({ authority } = await world());
  authenticator = createJwtSvidAuthenticator({
    bundleSource: authority,
    audience: AUD,
    authorize: matchId(SpiffeId.parse(WEB)),
  });
  token = await mint();
});

/** Runs `body` against `app` listening on 127.0.0.1, then closes it. */
async function withServer(
  app: FastifyInstance,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await body(url);
  } finally {
    await app.close();
  }
}

describe('fastifyJwtSvidAuth', () => {
  it('lets a valid caller through with request.spiffe and refuses every broken request', async () => {
    const runs: string[] = [];
    const app = Fastify();
    await app.register(fastifyJwtSvidAuth, { authenticator });
    app.get('/whoami', (request) => {
      runs.push(request.spiffe?.id.toString() ?? 'none');
      return { id: request.spiffe?.id.toString() };
    });
    await withServer(app, async (url) => {
      await assertOnlyValidCallerAccepted(`${url}/whoami`, authority, token);
      assert.deepEqual(runs, [WEB], 'the route ran for the valid caller only');
    });
  });

  it('applies to the scope that registers it (skip-override), not to sibling scopes', async () => {
    const runs: string[] = [];
    const app = Fastify();
    await app.register(async (api) => {
      await api.register(fastifyJwtSvidAuth, { bundleSource: authority, audience: AUD });
      api.get('/api/data', (request) => {
        runs.push('api');
        return request.spiffe?.id.toString();
      });
    });
    app.get('/healthz', (request) => {
      runs.push(`healthz ${request.spiffe === undefined ? 'unset' : 'set'}`);
      return 'ok';
    });
    await withServer(app, async (url) => {
      assert.equal((await send(`${url}/api/data`)).status, 401);
      assert.equal((await send(`${url}/healthz`)).status, 200);
      assert.equal((await send(`${url}/api/data`, bearer(token))).body, WEB);
      assert.deepEqual(runs, ['healthz unset', 'api']);
    });
  });

  it('works through inject, where the request has no headersDistinct', async () => {
    const app = Fastify();
    await app.register(fastifyJwtSvidAuth, { authenticator });
    app.get('/', (request) => request.spiffe?.id.toString());
    try {
      const ok = await app.inject({ url: '/', headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.body, WEB);
      const missing = await app.inject({ url: '/' });
      assert.equal(missing.statusCode, 401);
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
    } finally {
      await app.close();
    }
  });

  it('throws refusals to the error handler with forwardErrors; the default one keeps status and challenge', async () => {
    const app = Fastify();
    await app.register(fastifyJwtSvidAuth, { authenticator, forwardErrors: true });
    let ran = 0;
    app.get('/', () => {
      ran++;
      return 'ok';
    });
    await withServer(app, async (url) => {
      const missing = await send(url);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
      const denied = await send(url, bearer(await mint(DB)));
      assert.equal(denied.status, 403);
      assert.match(denied.headers['www-authenticate'] ?? '', /error="insufficient_scope"/);
      assert.ok(!denied.body.includes(token));
      assert.equal(ran, 0);
    });

    const seen: unknown[] = [];
    const custom = Fastify();
    custom.setErrorHandler((err, _request, reply) => {
      seen.push(err);
      return reply.code(418).send('teapot');
    });
    await custom.register(fastifyJwtSvidAuth, { authenticator, forwardErrors: true });
    custom.get('/', () => 'ok');
    await withServer(custom, async (url) => {
      assert.equal((await send(url)).status, 418);
      assert.ok(seen[0] instanceof JwtSvidAuthError);
      assert.equal((await send(url, bearer(token))).status, 200, 'control');
      assert.equal(seen.length, 1);
    });
  });

  it('sends other failures to the error handler, and refuses bad options at registration', async () => {
    const failure = new Error('policy store down');
    const app = Fastify();
    const seen: unknown[] = [];
    app.setErrorHandler((err, _request, reply) => {
      seen.push(err);
      return reply.code(503).send();
    });
    await app.register(fastifyJwtSvidAuth, {
      authenticator: { authenticate: () => Promise.reject(failure) },
    });
    let ran = false;
    app.get('/', () => {
      ran = true;
      return 'ok';
    });
    await withServer(app, async (url) => {
      assert.equal((await send(url, bearer(token))).status, 503);
      assert.deepEqual(seen, [failure]);
      assert.equal(ran, false);
    });

    const broken = Fastify();
    await assert.rejects(
      async () => {
        await broken.register(fastifyJwtSvidAuth, { bundleSource: authority, audience: '' });
      },
      { code: 'ERR_SPIFFE_INVALID_ARGUMENT' },
    );
    await broken.close();
  });
});
