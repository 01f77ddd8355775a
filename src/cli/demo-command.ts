import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { CliUsageError, SpiffeError } from '../errors.js';
import { SpiffeId } from '../spiffeid/index.js';
import { JwtSvidValidator } from '../svid/index.js';
import { JwtAuthority, TestCA, WorkloadApiServer } from '../testing/index.js';
import {
  authorizeId,
  authorizeOneOf,
  createHttpsServer,
  mtlsClient,
  mtlsServer,
  peerIdOf,
  SpiffeHttpsAgent,
} from '../tls/index.js';
import { JwtSource, X509Source } from '../workloadapi/index.js';

const HELP = `Usage: spiffe-sdk demo [--duration <seconds>]

Runs SPIFFE mTLS end to end in one process on the bundled reference issuer: an https server
that authorizes clients by SPIFFE ID and validates a JWT-SVID in its request handler, a client
it accepts, an intruder it refuses, and SVID rotation every 2 seconds while requests continue.
Exits 0 when everything behaved as expected.`;

const TRUST_DOMAIN = 'example.org';
const API = SpiffeId.parse('spiffe://example.org/api');
const WEB = SpiffeId.parse('spiffe://example.org/web');
const INTRUDER = SpiffeId.parse('spiffe://example.org/intruder');

/** One workload's view: its own Workload API endpoint and sources, as on a real node. */
interface Workload {
  readonly id: SpiffeId;
  readonly agent: WorkloadApiServer;
  readonly x509: X509Source;
  readonly jwt: JwtSource;
}

function log(message: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)}  ${message}`);
}

function serialOf(svid: { certificates: readonly { serialNumber: string }[] }): string {
  return (svid.certificates[0]?.serialNumber ?? '').slice(0, 8);
}

async function request(
  port: number,
  agent: https.Agent,
  token: string | undefined,
): Promise<{ status: number; body: string; serverSerial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/hello',
        agent,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (res) => {
        const socket = res.socket;
        const serverSerial =
          socket instanceof TLSSocket ? socket.getPeerCertificate().serialNumber : '';
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, serverSerial: serverSerial.slice(0, 8) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Runs `spiffe-sdk demo`; resolves with the exit code. */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  const duration = Number(values.duration ?? '8');
  if (!Number.isFinite(duration) || duration < 3) {
    throw new CliUsageError(
      `--duration must be a number of seconds >= 3, got ${values.duration ?? ''}`,
    );
  }

  const resources: { close(): Promise<void> | void }[] = [];
  const problems: string[] = [];
  try {
    log(`reference issuer: test CA and JWT authority for trust domain ${TRUST_DOMAIN}`);
    const ca = await TestCA.create({ trustDomain: TRUST_DOMAIN });
    const jwtAuthority = await JwtAuthority.create({ trustDomain: TRUST_DOMAIN });

    const issue = async (id: SpiffeId, agent: WorkloadApiServer): Promise<void> => {
      const svid = await ca.issueX509Svid(id, { ttlSeconds: 60 });
      await agent.setIdentity({ x509Svids: [svid], x509Bundle: ca.x509Bundle(), jwtAuthority });
    };
    const workloads: Workload[] = [];
    for (const id of [API, WEB, INTRUDER]) {
      const agent = await WorkloadApiServer.create();
      resources.push(agent);
      await issue(id, agent);
      const x509 = await X509Source.create({ address: agent.address, timeout: 10_000 });
      resources.push(x509);
      const jwt = await JwtSource.create({ address: agent.address, timeout: 10_000 });
      resources.push(jwt);
      workloads.push({ id, agent, x509, jwt });
      log(
        `workload ${id.toString()}: X509-SVID ${serialOf(x509.getX509Svid())}… from its Workload API (${agent.address})`,
      );
    }
    const [api, web, intruder] = workloads as [Workload, Workload, Workload];

    // The server: mTLS with an ID matcher, plus a JWT-SVID check in the request handler.
    const validator = new JwtSvidValidator({ bundleSource: api.jwt, audience: API.toString() });
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const peer = peerIdOf(req);
      const header = req.headers.authorization ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7) : '';
      validator.validate(token).then(
        (jwt) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`hello ${peer?.toString() ?? '?'} (JWT-SVID subject ${jwt.id.toString()})`);
        },
        (err: unknown) => {
          res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
          res.end(err instanceof SpiffeError ? err.code : 'invalid token');
        },
      );
    };
    const server = createHttpsServer(mtlsServer(api.x509, authorizeOneOf(WEB)), {}, handler);
    resources.push({
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    log(
      `https server ${API.toString()} on 127.0.0.1:${port}: mTLS, clients authorized by ID matcher oneOf(${WEB.toString()})`,
    );

    // keepAlive off: every request is a new handshake, so rotation shows on the next request.
    const webAgent = new SpiffeHttpsAgent(mtlsClient(web.x509, authorizeId(API)), {
      keepAlive: false,
    });
    resources.push(webAgent);
    const intruderAgent = new SpiffeHttpsAgent(mtlsClient(intruder.x509, authorizeId(API)), {
      keepAlive: false,
    });
    resources.push(intruderAgent);

    const webToken = async (): Promise<string> =>
      (await web.jwt.fetchJwtSvid({ audience: API.toString() })).token;

    const ok = await request(port, webAgent, await webToken());
    if (ok.status === 200) log(`ACCEPTED ${WEB.toString()}: ${ok.status} "${ok.body}"`);
    else problems.push(`the authorized client got ${ok.status} ${ok.body}`);

    try {
      const bad = await request(port, intruderAgent, undefined);
      problems.push(`the intruder was answered with ${bad.status}`);
    } catch (err) {
      log(
        `REFUSED  ${INTRUDER.toString()}: the server closed the TLS connection (${(err as Error).message})`,
      );
    }

    const noJwt = await request(port, webAgent, 'not-a-token');
    if (noJwt.status === 401) log(`REFUSED  a request without a valid JWT-SVID: 401 ${noJwt.body}`);
    else problems.push(`a request with a bad token got ${noJwt.status}`);

    log(`rotating every X509-SVID every 2 s for ${duration} s while the client keeps calling`);
    const deadline = Date.now() + duration * 1000;
    let nextRotation = Date.now() + 2000;
    let requests = 0;
    let rotations = 0;
    let lastServerSerial = ok.serverSerial;
    const rotated = (source: X509Source): Promise<void> =>
      new Promise((resolve) => {
        const off = source.onUpdate(() => {
          off();
          resolve();
        });
      });
    while (Date.now() < deadline) {
      if (Date.now() >= nextRotation) {
        const seen = Promise.all(workloads.map((w) => rotated(w.x509)));
        for (const w of workloads) await issue(w.id, w.agent);
        await seen;
        rotations++;
        nextRotation += 2000;
        log(
          `rotation ${rotations}: server now presents ${serialOf(api.x509.getX509Svid())}…, client ${serialOf(web.x509.getX509Svid())}…`,
        );
      }
      const res = await request(port, webAgent, await webToken());
      requests++;
      if (res.status !== 200)
        problems.push(`request ${requests} failed with ${res.status} ${res.body}`);
      if (res.serverSerial !== lastServerSerial) {
        log(
          `client sees the server's new SVID ${res.serverSerial}… (request ${requests} succeeded)`,
        );
        lastServerSerial = res.serverSerial;
      }
    }
    log(
      `${requests} requests across ${rotations} rotations, ${requests - problems.length} succeeded`,
    );
  } finally {
    for (const r of resources.reverse()) await r.close();
  }
  if (problems.length > 0) {
    for (const p of problems) console.error(`demo: UNEXPECTED: ${p}`);
    return 1;
  }
  log('demo finished: accepted, refused and rotated as expected');
  return 0;
}
