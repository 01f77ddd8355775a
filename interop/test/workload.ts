// A Node workload of the interop tests: the tests fork it under the uid of a registered workload
// (see helpers.ts), so the SPIRE agent attests it as that workload. It holds an X509Source on the
// agent named by SPIFFE_ENDPOINT_SOCKET, reports every change of it, and runs what the parent asks
// over the IPC channel: an mTLS server, an mTLS request, a JWT-SVID fetch.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  authorizeId,
  createHttpsServer,
  mtlsClient,
  mtlsServer,
  PeerUnauthorizedError,
  peerIdOf,
  SpiffeHttpsAgent,
} from 'spiffe-sdk/tls';
import {
  SpiffeError,
  WorkloadApiClient,
  X509Source,
  type X509SourceSnapshot,
} from 'spiffe-sdk/workloadapi';

/** What the parent asks. */
export type WorkloadRequest =
  | { readonly op: 'serve'; readonly allow: string }
  | { readonly op: 'request'; readonly url: string; readonly expect: string }
  | { readonly op: 'fetch-jwt'; readonly audience: string };

/** An error as it crosses the IPC channel. */
export interface WorkloadError {
  readonly code: string | undefined;
  readonly message: string;
  /** The refused peer, for `PeerUnauthorizedError`. */
  readonly peerId: string | undefined;
}

/** What the workload reports without being asked. */
export type WorkloadEvent =
  | {
      readonly event: 'update';
      readonly id: string | undefined;
      readonly serial: string | undefined;
      readonly expiresAt: string | undefined;
      readonly trustDomains: readonly string[];
    }
  | { readonly event: 'request'; readonly peer: string | undefined }
  | { readonly event: 'rejected'; readonly error: WorkloadError };

/** A message from the workload: an event, or the answer to request `id`. */
export type WorkloadMessage =
  | WorkloadEvent
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: WorkloadError };

function send(message: WorkloadMessage): void {
  process.send?.(message);
}

function errorOf(error: unknown): WorkloadError {
  return {
    code: error instanceof SpiffeError ? error.code : (error as { code?: string }).code,
    message: error instanceof Error ? error.message : String(error),
    peerId: error instanceof PeerUnauthorizedError ? error.peerId : undefined,
  };
}

function report(snapshot: X509SourceSnapshot): void {
  send({
    event: 'update',
    id: snapshot.svid?.id.toString(),
    serial: snapshot.svid?.certificates[0]?.serialNumber,
    expiresAt: snapshot.svid?.expiresAt.toISOString(),
    trustDomains: snapshot.bundles.bundles().map((b) => b.trustDomain.name),
  });
}

// The parent is gone (test finished or crashed): nothing may outlive it.
process.on('disconnect', () => process.exit(0));

const source = await X509Source.create({ timeout: 60_000 });
const client = new WorkloadApiClient();
source.onUpdate(report);
report(source.snapshot());

async function handle(request: WorkloadRequest): Promise<unknown> {
  switch (request.op) {
    case 'serve': {
      const mode = mtlsServer(source, authorizeId(request.allow), {
        onReject: (error) => {
          send({ event: 'rejected', error: errorOf(error) });
        },
      });
      const server = createHttpsServer(mode, {}, (req, res) => {
        const peer = peerIdOf(req)?.toString();
        send({ event: 'request', peer });
        res.end(peer);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as AddressInfo).port };
    }
    case 'request': {
      const agent = new SpiffeHttpsAgent(mtlsClient(source, authorizeId(request.expect)));
      try {
        return await new Promise((resolve, reject) => {
          https
            .get(request.url, { agent }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (body += chunk));
              res.on('end', () => {
                resolve({ status: res.statusCode, body, server: peerIdOf(res)?.toString() });
              });
            })
            .on('error', reject);
        });
      } finally {
        agent.destroy();
      }
    }
    case 'fetch-jwt': {
      const svid = await client.fetchJwtSvid({ audience: request.audience });
      return { token: svid.marshal(), id: svid.id.toString() };
    }
  }
}

process.on('message', (message: { id: number } & WorkloadRequest) => {
  handle(message).then(
    (result) => {
      send({ id: message.id, result });
    },
    (error: unknown) => {
      send({ id: message.id, error: errorOf(error) });
    },
  );
});
