// jwtSvidAuth on a real Express 5 app on 127.0.0.1: status, challenge and body of refusals,
// whether the route ran, req.spiffe, forwarding to error handlers, and path scoping.
import assert from 'node:assert/strict';
import http from 'node:http';
import { before, describe, it } from 'node:test';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { JwtSvidAuthError } from '../../src/errors.js';
import { jwtSvidAuth } from '../../src/express/index.js';
import {
  createJwtSvidAuthenticator,
  type JwtSvidAuthenticator,
  jwtSvidOf,
} from '../../src/http/index.js';
import { matchId, SpiffeId } from '../../src/spiffeid/index.js';
import type { JwtAuthority } from '../../src/testing/jwt-authority.js';
import {
  assertOnlyValidCallerAccepted,
  AUD,
  bearer,
  DB,
  listen,
  mint,
  send,
  shut,
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

/** Runs `body` against `app` served on 127.0.0.1, then closes everything. */
async function withServer(app: Express, body: (url: string) => Promise<void>): Promise<void> {
  app.set('env', 'test'); // Express's final handler logs errors outside 'test'
  const server = http.createServer(app);
  const url = await listen(server);
  try {
    await body(url);
  } finally {
    await shut(server);
  }
}

/** An app with the middleware on every route and a /whoami route that records its runs. */
function appWith(middleware: express.RequestHandler): { app: Express; runs: string[] } {
  const runs: string[] = [];
  const app = express();
  app.use(middleware);
  app.get('/whoami', (req, res) => {
    assert.equal(jwtSvidOf(req), req.spiffe, 'jwtSvidOf sees the same caller');
    runs.push(req.spiffe?.id.toString() ?? 'none');
    res.json({ id: req.spiffe?.id.toString() });
  });
  return { app, runs };
}

describe('jwtSvidAuth (Express)', () => {
  it('lets a valid caller through with req.spiffe and refuses every broken request', async () => {
    const { app, runs } = appWith(jwtSvidAuth(authenticator));
    await withServer(app, async (url) => {
      await assertOnlyValidCallerAccepted(`${url}/whoami`, authority, token);
      assert.deepEqual(runs, [WEB], 'the route ran for the valid caller only');
    });
  });

  it('takes authenticator options and protects only the path it is mounted on', async () => {
    const runs: string[] = [];
    const app = express();
    app.use('/api', jwtSvidAuth({ bundleSource: authority, audience: AUD }));
    app.get('/api/data', (req, res) => {
      runs.push('api');
      res.send(req.spiffe?.id.toString());
    });
    app.get('/healthz', (req, res) => {
      runs.push(`healthz ${req.spiffe === undefined ? 'unset' : 'set'}`);
      res.send('ok');
    });
    await withServer(app, async (url) => {
      assert.equal((await send(`${url}/api/data`)).status, 401);
      assert.equal((await send(`${url}/healthz`)).status, 200);
      const ok = await send(`${url}/api/data`, bearer(token));
      assert.equal(ok.body, WEB);
      assert.deepEqual(runs, ['healthz unset', 'api']);
    });
  });

  it('forwards refusals to next(err) with forwardErrors; the default handler keeps status and challenge', async () => {
    const { app, runs } = appWith(jwtSvidAuth(authenticator, { forwardErrors: true }));
    await withServer(app, async (url) => {
      const missing = await send(`${url}/whoami`);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
      const denied = await send(`${url}/whoami`, bearer(await mint(DB)));
      assert.equal(denied.status, 403);
      assert.match(denied.headers['www-authenticate'] ?? '', /error="insufficient_scope"/);
      assert.ok(!denied.body.includes(token));
      assert.deepEqual(runs, []);
    });

    const seen: unknown[] = [];
    const custom = appWith(jwtSvidAuth(authenticator, { forwardErrors: true }));
    // Express tells error handlers by their four parameters.
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const handler: ErrorRequestHandler = (err, _req, res, _next) => {
      seen.push(err);
      res.status(418).end();
    };
    custom.app.use(handler);
    await withServer(custom.app, async (url) => {
      assert.equal((await send(`${url}/whoami`)).status, 418);
      assert.ok(seen[0] instanceof JwtSvidAuthError);
      assert.equal(seen[0].reason, 'missing');
      assert.equal((await send(`${url}/whoami`, bearer(token))).status, 200, 'control');
      assert.equal(seen.length, 1);
    });
  });

  it('sends other failures to next(err) even without forwardErrors', async () => {
    const failure = new Error('policy store down');
    const { app, runs } = appWith(jwtSvidAuth({ authenticate: () => Promise.reject(failure) }));
    const seen: unknown[] = [];
    // Express tells error handlers by their four parameters.
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const handler: ErrorRequestHandler = (err, _req, res, _next) => {
      seen.push(err);
      res.status(503).end();
    };
    app.use(handler);
    await withServer(app, async (url) => {
      assert.equal((await send(`${url}/whoami`, bearer(token))).status, 503);
      assert.deepEqual(seen, [failure]);
      assert.deepEqual(runs, []);
    });
  });
});
