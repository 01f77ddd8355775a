// Shared fixtures for the gRPC tests: a JSON test service whose handlers record every invocation,
// real grpc-js servers on loopback (bound with credentials, or behind createGrpcTlsServer), and a
// call helper that resolves with the outcome. Every wait is on an event or a call's completion.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type tls from 'node:tls';
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  credentials,
  Metadata,
  Server,
  type ServerCredentials,
  type ServerInterceptor,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { createGrpcTlsServer, jwtSvidFromCall, peerIdFromCall } from '../../src/grpc/index.js';
import type { ServerMode } from '../../src/tls/index.js';

/** What the test service answers: the identities the handler saw. */
export interface Seen {
  readonly peerId: string | null;
  readonly jwtId: string | null;
  /** Serial number of the client leaf certificate of the call's connection. */
  readonly clientSerial: string | null;
}

const serialize = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const deserialize = (bytes: Buffer): unknown => JSON.parse(bytes.toString()) as unknown;

export const service = {
  hello: {
    path: '/spiffe.test.Echo/Hello',
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  },
  chat: {
    path: '/spiffe.test.Echo/Chat',
    requestStream: true,
    responseStream: true,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  },
} satisfies ServiceDefinition;

/** Counts handler invocations: a refused call must never reach a handler. */
export class Recorder {
  invocations = 0;
  /** Connections handed to grpc-js by createGrpcTlsServer. */
  injected = 0;
  readonly seen: Seen[] = [];

  record(call: ServerUnaryCall<unknown, unknown> | ServerDuplexStream<unknown, unknown>): Seen {
    this.invocations += 1;
    const seen: Seen = {
      peerId: peerIdFromCall(call)?.toString() ?? null,
      jwtId: jwtSvidFromCall(call)?.id.toString() ?? null,
      clientSerial: call.getAuthContext().sslPeerCertificate?.serialNumber ?? null,
    };
    this.seen.push(seen);
    return seen;
  }
}

/** A grpc-js server with the test service, recording into `recorder`. */
export function testServer(recorder: Recorder, interceptors: ServerInterceptor[] = []): Server {
  const server = new Server({ interceptors });
  server.addService(service, {
    hello: (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<Seen>) => {
      callback(null, recorder.record(call));
    },
    chat: (call: ServerDuplexStream<unknown, unknown>) => {
      const seen = recorder.record(call);
      call.on('data', () => {
        call.write(seen);
      });
      call.on('end', () => {
        call.end();
      });
    },
  });
  return server;
}

/** A running server: where it listens and how to stop it. */
export interface Running {
  readonly port: number;
  readonly recorder: Recorder;
  readonly server: Server;
  stop(): Promise<void>;
}

/** `server.bindAsync` on 127.0.0.1 with `creds`. */
export async function bound(
  creds: ServerCredentials,
  interceptors: ServerInterceptor[] = [],
): Promise<Running> {
  const recorder = new Recorder();
  const server = testServer(recorder, interceptors);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', creds, (err, p) => {
      if (err === null) resolve(p);
      else reject(err);
    });
  });
  return {
    port,
    recorder,
    server,
    stop: () => {
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}

/** The gRPC server behind `createGrpcTlsServer(server, mode)` on 127.0.0.1. */
export async function injected(
  mode: ServerMode,
  interceptors: ServerInterceptor[] = [],
): Promise<Running & { readonly tlsServer: tls.Server }> {
  const recorder = new Recorder();
  const server = testServer(recorder, interceptors);
  // Counts the connections handed to grpc-js.
  const createInjector = server.createConnectionInjector.bind(server);
  server.createConnectionInjector = (creds) => {
    const injector = createInjector(creds);
    return {
      ...injector,
      injectConnection: (connection) => {
        recorder.injected += 1;
        injector.injectConnection(connection);
      },
    };
  };
  const tlsServer = createGrpcTlsServer(server, mode);
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const address = tlsServer.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    recorder,
    server,
    tlsServer,
    stop: async () => {
      const done = once(tlsServer, 'close');
      server.forceShutdown();
      tlsServer.close();
      await done;
    },
  };
}

/** Every new channel gets its own connections (the global subchannel pool would share them). */
export const OWN_CONNECTIONS: ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

/** A client of the test service. `localhost` avoids grpc-js's IP-address SNI warning. */
export function client(
  port: number,
  creds: ChannelCredentials,
  options: ChannelOptions = OWN_CONNECTIONS,
): Client {
  return new Client(`localhost:${port}`, creds, options);
}

export type Outcome =
  | { readonly ok: true; readonly value: Seen }
  | { readonly ok: false; readonly code: status; readonly details: string };

/** One unary call; resolves with the answer or the status. */
export function hello(c: Client, metadata: Metadata = new Metadata()): Promise<Outcome> {
  return new Promise((resolve) => {
    c.makeUnaryRequest(
      service.hello.path,
      serialize,
      (bytes: Buffer) => deserialize(bytes) as Seen,
      {},
      metadata,
      { deadline: Date.now() + 10_000 },
      (err, value) => {
        if (err === null && value !== undefined) resolve({ ok: true, value });
        else resolve({ ok: false, code: err?.code ?? status.UNKNOWN, details: err?.details ?? '' });
      },
    );
  });
}

/** One bidi call that sends one message; resolves with the first answer or the status. */
export function chat(c: Client): Promise<Outcome> {
  return new Promise((resolve) => {
    const stream = c.makeBidiStreamRequest(
      service.chat.path,
      serialize,
      (bytes: Buffer) => deserialize(bytes) as Seen,
      new Metadata(),
      { deadline: Date.now() + 10_000 },
    );
    let settled = false;
    stream.on('data', (value: Seen) => {
      if (!settled) {
        settled = true;
        resolve({ ok: true, value });
      }
      stream.end();
    });
    stream.on('error', (err: { code?: status; details?: string }) => {
      if (!settled) {
        settled = true;
        resolve({ ok: false, code: err.code ?? status.UNKNOWN, details: err.details ?? '' });
      }
    });
    stream.write({ hello: true });
  });
}

/** Asserts a refused call and returns its details. */
export function assertRefused(outcome: Outcome, code: status): string {
  assert.equal(outcome.ok, false, `expected ${status[code]}, the call succeeded`);
  assert.ok(!outcome.ok);
  assert.equal(
    outcome.code,
    code,
    `expected ${status[code]}, got ${status[outcome.code]}: ${outcome.details}`,
  );
  return outcome.details;
}

/** Asserts a successful call and returns what the handler saw. */
export function assertOk(outcome: Outcome): Seen {
  assert.ok(outcome.ok, outcome.ok ? '' : `${status[outcome.code]}: ${outcome.details}`);
  return outcome.value;
}

/** Plain grpc-js channel credentials (no SDK) presenting `key`/`cert` and trusting `ca`. */
export function plainChannelCredentials(ca: string, key: string, cert: string): ChannelCredentials {
  return credentials.createSsl(Buffer.from(ca), Buffer.from(key), Buffer.from(cert), {
    checkServerIdentity: () => undefined,
  });
}

export const SERVER_ID = 'spiffe://a.org/server';
export const CLIENT_ID = 'spiffe://a.org/client';

/** Runs `fn` with clients that are all closed afterwards, then stops the server. */
export async function using(
  running: Running,
  fn: (connect: (c: Client) => Client) => Promise<void>,
): Promise<void> {
  const clients: Client[] = [];
  try {
    await fn((c) => {
      clients.push(c);
      return c;
    });
  } finally {
    for (const c of clients) c.close();
    await running.stop();
  }
}
