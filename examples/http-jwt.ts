// JWT-SVIDs over HTTPS with node:https: TLS authenticates the server (its X509-SVID), a JWT-SVID
// in `Authorization: Bearer` authenticates the client. Each side has its own in-process Workload
// API server (a stand-in for its SPIRE agent), so it runs anywhere:
//   npm run build && node dist/examples/http-jwt.js
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { InvalidArgumentError, jwtSvidFetch, jwtSvidOf, withJwtSvidAuth } from 'spiffe-sdk/http';
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

// Server: TLS with its X509-SVID; JWT-SVIDs for its own ID as audience, from example.org only.
await using serverAgent = await agentFor(API);
await using serverX509 = await X509Source.create({ address: serverAgent.address, timeout: 10_000 });
await using serverJwt = await JwtSource.create({ address: serverAgent.address, timeout: 10_000 });
const server = createHttpsServer(
  tlsServer(serverX509),
  {},
  withJwtSvidAuth(
    {
      bundleSource: serverJwt,
      audience: API,
      authorize: matchMemberOf(TrustDomain.parse('example.org')),
    },
    (req, res) => {
      res.end(`hello ${jwtSvidOf(req)?.id.toString() ?? '?'}`);
    },
  ),
);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;

// Client: verifies that the server is spiffe://example.org/api, sends a JWT-SVID for it.
await using clientAgent = await agentFor(WEB);
await using clientX509 = await X509Source.create({ address: clientAgent.address, timeout: 10_000 });
await using clientJwt = await JwtSource.create({ address: clientAgent.address, timeout: 10_000 });
await using dispatcher = await createUndiciDispatcher(tlsClient(clientX509, authorizeId(API)));
const apiFetch = jwtSvidFetch(clientJwt, { audience: API, fetch });

try {
  const ok = await apiFetch(url, { dispatcher });
  const body = await ok.text();
  console.log(`with a JWT-SVID for ${API}: ${ok.status} ${body}`);
  assert.equal(ok.status, 200);
  assert.equal(body, `hello ${WEB}`);

  const anonymous = await fetch(url, { dispatcher });
  const challenge = anonymous.headers.get('www-authenticate');
  await anonymous.body?.cancel();
  console.log(`without a token: ${anonymous.status}, WWW-Authenticate: ${String(challenge)}`);
  assert.equal(anonymous.status, 401);
  assert.equal(challenge, 'Bearer');

  const billingFetch = jwtSvidFetch(clientJwt, { audience: 'spiffe://example.org/billing', fetch });
  const misdirected = await billingFetch(url, { dispatcher });
  console.log(
    `with a token for another audience: ${misdirected.status} ${await misdirected.text()}`,
  );
  assert.equal(misdirected.status, 401);

  // The token never leaves over plain HTTP.
  const refused = await apiFetch('http://127.0.0.1:1/').catch((err: unknown) => err);
  assert.ok(refused instanceof InvalidArgumentError);
  console.log(`plain http: refused before sending (${refused.message.slice(0, 60)}…)`);
} finally {
  server.close();
  server.closeAllConnections();
}
