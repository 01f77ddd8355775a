// Fastify behind SPIFFE TLS, with the fastifyJwtSvidAuth plugin protecting the routes of one
// scope: TLS authenticates the server (its X509-SVID), a JWT-SVID in `Authorization: Bearer`
// authenticates the client. Each side has its own in-process Workload API server (a stand-in for
// its SPIRE agent):
//   npm run build && node dist/examples/fastify-jwt.js
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { fetch } from 'undici';
import { fastifyJwtSvidAuth } from 'spiffe-sdk/fastify';
import { jwtSvidFetch } from 'spiffe-sdk/http';
import { matchMemberOf, TrustDomain } from 'spiffe-sdk/spiffeid';
import { JwtAuthority, TestCA, WorkloadApiServer } from 'spiffe-sdk/testing';
import {
  authorizeId,
  createHttpsServer,
  createUndiciDispatcher,
  tlsClient,
  tlsServer,
} from 'spiffe-sdk/tls';
import { JwtSource, X509Source } from 'spiffe-sdk/workloadapi';

const API = 'spiffe://example.org/api';
const WEB = 'spiffe://example.org/web';
const ca = await TestCA.create({ trustDomain: 'example.org' });
const jwtAuthority = await JwtAuthority.create({ trustDomain: 'example.org' });
const agentFor = async (id: string): Promise<WorkloadApiServer> =>
  WorkloadApiServer.create({
    identity: {
      x509Svids: [await ca.issueX509Svid(id)],
      x509Bundle: ca.x509Bundle(),
      jwtAuthority,
    },
  });

// Server: Fastify on an HTTPS server that presents the X509-SVID (serverFactory).
await using serverAgent = await agentFor(API);
await using serverX509 = await X509Source.create({ address: serverAgent.address, timeout: 10_000 });
await using serverJwt = await JwtSource.create({ address: serverAgent.address, timeout: 10_000 });
const app = Fastify({
  serverFactory: (handler) => createHttpsServer(tlsServer(serverX509), {}, handler),
});
// The plugin applies to the scope that registers it: the /api routes, not /healthz.
await app.register(async (api) => {
  await api.register(fastifyJwtSvidAuth, {
    bundleSource: serverJwt,
    audience: API,
    authorize: matchMemberOf(TrustDomain.parse('example.org')),
  });
  api.get('/api/whoami', (request) => ({ caller: request.spiffe?.id.toString() }));
});
app.get('/healthz', () => 'ok');
await app.listen({ port: 0, host: '127.0.0.1' });
// listen() reports http://, not knowing that the factory's server speaks TLS.
const base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

// Client
await using clientAgent = await agentFor(WEB);
await using clientX509 = await X509Source.create({ address: clientAgent.address, timeout: 10_000 });
await using clientJwt = await JwtSource.create({ address: clientAgent.address, timeout: 10_000 });
await using dispatcher = await createUndiciDispatcher(tlsClient(clientX509, authorizeId(API)));
const apiFetch = jwtSvidFetch(clientJwt, { audience: API, fetch });

try {
  const ok = await apiFetch(`${base}/api/whoami`, { dispatcher });
  const body = (await ok.json()) as { caller: string };
  console.log(`GET /api/whoami with a JWT-SVID: ${ok.status}`, body);
  assert.equal(ok.status, 200);
  assert.equal(body.caller, WEB);

  const anonymous = await fetch(`${base}/api/whoami`, { dispatcher });
  console.log(
    `GET /api/whoami without one: ${anonymous.status}, WWW-Authenticate: ${String(anonymous.headers.get('www-authenticate'))}`,
    await anonymous.json(),
  );
  assert.equal(anonymous.status, 401);

  const health = await fetch(`${base}/healthz`, { dispatcher });
  console.log(`GET /healthz without one: ${health.status} ${await health.text()}`);
  assert.equal(health.status, 200);
} finally {
  await app.close();
}
