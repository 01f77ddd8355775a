// withJwtSvidAuth and jwtSvidOf on a real node:http server on 127.0.0.1: status, challenge and
// body of refusals, whether the handler ran, and handler failures that must not become unhandled
// rejections.
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  createJwtSvidAuthenticator,
  type JwtSvidAuthenticator,
  type JwtSvidAuthResult,
  jwtSvidOf,
  withJwtSvidAuth,
  type WithJwtSvidAuthOptions,
} from '../../src/http/index.js';
import { matchId, SpiffeId } from '../../src/spiffeid/index.js';
import {
  AUD,
  type Answer,
  bearer,
  DB,
  listen,
  mint,
  parseChallenge,
  send,
  shut,
  WEB,
  world,
} from './jwt-helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

let authenticator: JwtSvidAuthenticator;
let token: string;

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  const { authority } = await world();
  authenticator = createJwtSvidAuthenticator({
    bundleSource: authority,
    audience: AUD,
    authorize: matchId(SpiffeId.parse(WEB)),
  });
  token = await mint();
});

after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

/** Serves `handler` behind the wrapper for one test; records the handler's calls. */
async function serve(
  handler: Handler,
  options?: WithJwtSvidAuthOptions,
): Promise<{ url: string; calls: (JwtSvidAuthResult | undefined)[]; close: () => Promise<void> }> {
  const calls: (JwtSvidAuthResult | undefined)[] = [];
  const server = http.createServer(
    withJwtSvidAuth(
      authenticator,
      (req, res) => {
        calls.push(jwtSvidOf(req));
        return handler(req, res);
      },
      options,
    ),
  );
  const url = await listen(server);
  return { url, calls, close: () => shut(server) };
}

function assertRefused(answer: Answer, status: number, error: string | undefined): void {
  assert.equal(answer.status, status);
  const challenge = answer.headers['www-authenticate'];
  assert.ok(challenge !== undefined);
  assert.equal(parseChallenge(challenge)['error'], error);
  assert.equal(answer.headers['content-type'], 'application/json');
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  assert.equal(body['status'], status);
  assert.equal(body['error'], error);
  assert.equal(typeof body['error_description'], 'string');
  assert.ok(!answer.body.includes(token), 'the token is not echoed');
}

describe('withJwtSvidAuth', () => {
  it('calls the handler with the caller for a valid token, and refuses without one', async () => {
    const { url, calls, close } = await serve((req, res) => {
      res.end(`hello ${jwtSvidOf(req)?.id.toString() ?? ''}`);
    });
    try {
      const ok = await send(url, bearer(token));
      assert.equal(ok.status, 200);
      assert.equal(ok.body, `hello ${WEB}`);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]?.id.toString(), WEB);

      const missing = await send(url);
      assertRefused(missing, 401, undefined);
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
      assert.equal(calls.length, 1, 'the handler did not run');
    } finally {
      await close();
    }
  });

  it('refuses two Authorization headers that req.headers would have hidden', async () => {
    const { url, calls, close } = await serve((_req, res) => res.end('ok'));
    try {
      assertRefused(await send(url, [...bearer(token), ...bearer(token)]), 401, 'invalid_request');
      const bad = await send(url, ['authorization', 'Bearer ', ...bearer(token)]);
      assertRefused(bad, 401, 'invalid_request');
      assert.equal(calls.length, 0);
      // Control: one of them.
      assert.equal((await send(url, bearer(token))).status, 200);
      assert.equal(calls.length, 1);
    } finally {
      await close();
    }
  });

  it('answers invalid tokens with 401 invalid_token and denied callers with 403', async () => {
    const { url, calls, close } = await serve((_req, res) => res.end('ok'));
    try {
      const wrongAudience = await mint(WEB, 'spiffe://example.org/billing');
      assertRefused(await send(url, bearer(wrongAudience)), 401, 'invalid_token');
      assertRefused(await send(url, ['authorization', `Basic ${token}`]), 401, undefined);
      const denied = await send(url, bearer(await mint(DB)));
      assertRefused(denied, 403, 'insufficient_scope');
      assert.match(denied.body, new RegExp(`${DB} is not authorized`));
      assert.equal(calls.length, 0);
    } finally {
      await close();
    }
  });

  it('answers 500 when the handler throws or rejects, and reports it', async () => {
    const errors: Error[] = [];
    let mode: 'throw' | 'reject' | 'reject-value' = 'throw';
    const { url, close } = await serve(
      (_req, res) => {
        res.setHeader('content-length', '1000');
        if (mode === 'throw') throw new Error('sync failure');
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        return mode === 'reject' ? Promise.reject(new Error('async failure')) : Promise.reject('x');
      },
      { onError: (err) => errors.push(err) },
    );
    try {
      for (const next of ['throw', 'reject', 'reject-value'] as const) {
        mode = next;
        const answer = await send(url, bearer(token));
        assert.equal(answer.status, 500);
        assert.equal(answer.headers['content-length'], String(Buffer.byteLength(answer.body)));
        assert.deepEqual(JSON.parse(answer.body), {
          status: 500,
          error_description: 'internal server error',
        });
      }
      assert.deepEqual(
        errors.map((e) => e.message),
        ['sync failure', 'async failure', 'x'],
      );
    } finally {
      await close();
    }
  });

  it('resets the connection when the handler fails after the response started', async () => {
    const errors: Error[] = [];
    const { url, close } = await serve(
      async (_req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        await Promise.resolve();
        throw new Error('late failure');
      },
      {
        onError: (err) => {
          errors.push(err);
          throw new Error('a failing log hook is ignored');
        },
      },
    );
    try {
      await assert.rejects(send(url, bearer(token)), { code: 'ECONNRESET' });
      assert.deepEqual(
        errors.map((e) => e.message),
        ['late failure'],
      );
    } finally {
      await close();
    }
  });

  it('answers 500 when an authenticator of its own fails with something else', async () => {
    const errors: Error[] = [];
    const failing: JwtSvidAuthenticator = {
      authenticate: () => Promise.reject(new Error('policy store down')),
    };
    let ran = false;
    const server = http.createServer(
      withJwtSvidAuth(
        failing,
        (_req, res) => {
          ran = true;
          res.end();
        },
        { onError: (err) => errors.push(err) },
      ),
    );
    const url = await listen(server);
    try {
      assert.equal((await send(url, bearer(token))).status, 500);
      assert.equal(ran, false);
      assert.equal(errors[0]?.message, 'policy store down');
    } finally {
      await shut(server);
    }
  });

  it('takes authenticator options and checks its arguments', async () => {
    const { authority } = await world();
    const server = http.createServer(
      withJwtSvidAuth({ bundleSource: authority, audience: AUD }, (_req, res) => res.end('ok')),
    );
    const url = await listen(server);
    try {
      assert.equal((await send(url, bearer(token))).status, 200);
      assert.equal((await send(url)).status, 401);
    } finally {
      await shut(server);
    }
    assert.throws(() => withJwtSvidAuth(authenticator, 'handler' as never), InvalidArgumentError);
    assert.throws(
      () => withJwtSvidAuth(authenticator, () => undefined, { onError: 1 as never }),
      InvalidArgumentError,
    );
    assert.throws(() => withJwtSvidAuth(null as never, () => undefined), InvalidArgumentError);
    assert.equal(jwtSvidOf({}), undefined);
  });
});
