// Shared fixtures for the JWT-SVID-over-HTTP tests (http, express, fastify): an authority for
// example.org and one for other.org, assertions on refusals, and a raw HTTP client that can send
// repeated headers. Every wait is on an event.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { JwtSvidAuthError, type JwtSvidAuthFailure } from '../../src/errors.js';
import { JwtAuthority } from '../../src/testing/jwt-authority.js';

export const AUD = 'spiffe://example.org/reports';
export const WEB = 'spiffe://example.org/web';
export const DB = 'spiffe://example.org/db';

export interface World {
  readonly authority: JwtAuthority;
  /** An authority of other.org, whose bundle the services under test do not have. */
  readonly other: JwtAuthority;
}

let cached: Promise<World> | undefined;

/** The shared fixture world (created once per test file). */
export function world(): Promise<World> {
  cached ??= (async () => {
    const [authority, other] = await Promise.all([
      JwtAuthority.create({ trustDomain: 'example.org' }),
      JwtAuthority.create({ trustDomain: 'other.org' }),
    ]);
    return { authority, other };
  })();
  return cached;
}

/** A valid token for `subject` (default WEB) and `audience` (default AUD), valid 5 minutes. */
export async function mint(subject = WEB, audience: string = AUD): Promise<string> {
  const { authority } = await world();
  return authority.mint({ subject, audience, ttlSeconds: 300 });
}

/** RFC 6750 §3: what may appear between the quotes of error_description (and here realm). */
const QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Asserts that a challenge is `Bearer` followed by comma-separated `name="value"` pairs whose
 * values are all QUOTABLE, and returns the pairs.
 */
export function parseChallenge(challenge: string): Record<string, string> {
  assert.match(challenge, /^Bearer(?: |$)/, challenge);
  const params: Record<string, string> = {};
  const rest = challenge.slice('Bearer'.length).trim();
  if (rest === '') return params;
  for (const part of rest.split(', ')) {
    const match = /^([a-z_]+)="([^"\\]*)"$/.exec(part);
    assert.ok(match !== null, `not a name="value" auth-param: ${part}`);
    const [, name = '', value = ''] = match;
    assert.ok(!(name in params), `repeated auth-param ${name}`);
    assert.match(value, QUOTABLE, `value of ${name} outside the RFC 6750 charset`);
    params[name] = value;
  }
  return params;
}

/** Asserts that nothing an error (or its causes) shows contains `secret` (a token, say). */
export function assertNoLeak(error: unknown, secret: string): void {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const views = [current.message, current.stack ?? '', inspect(current), JSON.stringify(current)];
    if (current instanceof JwtSvidAuthError)
      views.push(current.wwwAuthenticate, current.description);
    for (const view of views) {
      assert.ok(!view.includes(secret), `the secret leaked into: ${view.slice(0, 200)}`);
    }
    current = current.cause;
  }
}

/**
 * Awaits a refusal of `reason`, checks its status and challenge, that it does not leak `secret`,
 * and returns it.
 */
export async function refusedWith(
  promise: Promise<unknown>,
  reason: JwtSvidAuthFailure,
  secret?: string,
): Promise<JwtSvidAuthError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a refusal "${reason}", but it passed`);
  assert.ok(
    caught instanceof JwtSvidAuthError,
    `expected JwtSvidAuthError, got ${inspect(caught)}`,
  );
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.code, 'ERR_SPIFFE_JWT_SVID_AUTH');
  assert.equal(caught.status, reason === 'forbidden' ? 403 : 401);
  assert.deepEqual(caught.headers, { 'www-authenticate': caught.wwwAuthenticate });
  const params = parseChallenge(caught.wwwAuthenticate);
  const code = {
    missing: undefined,
    scheme: undefined,
    malformed: 'invalid_request',
    'invalid-token': 'invalid_token',
    forbidden: 'insufficient_scope',
  }[reason];
  assert.equal(params['error'], code);
  if (code !== undefined) assert.equal(params['error_description'], caught.description);
  else assert.equal(params['error_description'], undefined, 'no error information (§3.1)');
  if (secret !== undefined) assertNoLeak(caught, secret);
  return caught;
}

/** What a raw request got back. */
export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Listens on 127.0.0.1 on a free port; returns the base URL. */
export async function listen(server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server and every connection it has (nothing is left to keep the process alive). */
export async function shut(server: http.Server): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}

/**
 * Sends one request without keep-alive. `headers` is flat `[name, value, name, value, …]` so a
 * header can be repeated. Resolves with the answer; rejects when the connection breaks.
 */
export function send(
  url: string,
  headers: readonly string[] = [],
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // With headers as an array Node adds none of its own, not even the Host that HTTP/1.1 needs.
    const host = new URL(url).host;
    const all = ['host', host, ...headers];
    const req = http.request(url, { method, headers: all, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('error', reject);
      res.once('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.once('error', reject);
    req.end();
  });
}

/** `['authorization', 'Bearer <token>']`. */
export function bearer(token: string): string[] {
  return ['authorization', `Bearer ${token}`];
}

/**
 * Asserts that `answer` is an adapter's refusal: `status`, a `WWW-Authenticate` challenge with
 * `error` (none for a request without credentials), a JSON body saying the same, and no `token`.
 */
export function assertRefused(
  answer: Answer,
  status: number,
  error: string | undefined,
  token: string,
): void {
  assert.equal(answer.status, status, answer.body);
  const challenge = answer.headers['www-authenticate'];
  assert.ok(challenge !== undefined, 'a WWW-Authenticate challenge');
  assert.equal(parseChallenge(challenge)['error'], error);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  assert.equal(body['status'], status);
  assert.equal(body['error'], error);
  assert.ok(!answer.body.includes(token));
}

/**
 * Sends `url` (a route behind a framework adapter whose authenticator accepts only WEB for AUD)
 * the valid request `token` and every kind of broken one: the valid one must answer 200 with
 * `{ id: WEB }`, each broken one its refusal. The caller then checks that its route ran once.
 */
export async function assertOnlyValidCallerAccepted(
  url: string,
  authority: JwtAuthority,
  token: string,
): Promise<void> {
  const ok = await send(url, bearer(token));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { id: WEB });

  const missing = await send(url);
  assertRefused(missing, 401, undefined, token);
  assert.equal(missing.headers['www-authenticate'], 'Bearer');
  assertRefused(
    await send(url, [...bearer(token), ...bearer(token)]),
    401,
    'invalid_request',
    token,
  );
  assertRefused(await send(url, ['authorization', `Basic ${token}`]), 401, undefined, token);
  assertRefused(
    await send(url, ['authorization', `Bearer ${token}!`]),
    401,
    'invalid_request',
    token,
  );
  const expired = await authority.mint({
    subject: WEB,
    audience: AUD,
    issuedAt: new Date(Date.now() - 600_000),
    expiresAt: new Date(Date.now() - 120_000),
  });
  assertRefused(await send(url, bearer(expired)), 401, 'invalid_token', token);
  assertRefused(await send(url, bearer(await mint(WEB, 'other'))), 401, 'invalid_token', token);
  const unknownKid = await authority.mintUnchecked({
    subject: WEB,
    audience: AUD,
    header: { kid: 'unknown' },
  });
  assertRefused(await send(url, bearer(unknownKid)), 401, 'invalid_token', token);
  assertRefused(await send(url, bearer(await mint(DB))), 403, 'insufficient_scope', token);
}
