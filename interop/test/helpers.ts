// Shared by the interop tests: the SPIRE deployment interop/run.mjs started (described by the file
// SPIFFE_SDK_INTEROP names), and the workloads the tests start under other uids: Node workloads
// (workload.ts) and the go-spiffe peer (interop/go-peer).
import {
  execFile,
  fork,
  spawn,
  type ChildProcess,
  type ChildProcessByStdio,
} from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { peerIdOf } from 'spiffe-sdk/tls';
import type { WorkloadError, WorkloadEvent, WorkloadMessage, WorkloadRequest } from './workload.js';

/** The two trust domains: alpha.test and beta.test. */
export type TrustDomainKey = 'alpha' | 'beta';

/** The registered workloads (interop/run.mjs `WORKLOADS`). */
export type WorkloadName =
  'runner' | 'nodeServer' | 'intruder' | 'rotating' | 'withdrawn' | 'goPeer' | 'betaServer';

/** One trust domain of the deployment. */
export interface TrustDomainInfo {
  readonly name: string;
  readonly serverSocket: string;
  readonly agentSocket: string;
  /** SPIRE's own bundle endpoint (https_spiffe). */
  readonly bundleEndpointUrl: string;
  /** The SPIFFE ID SPIRE's bundle endpoint presents. */
  readonly serverId: string;
}

/** One registered workload. */
export interface WorkloadInfo {
  readonly uid: number;
  readonly gid: number;
  readonly id: string;
  readonly trustDomain: TrustDomainKey;
  /** The `spire-server entry create` arguments of its entry (`-entryID` is its name). */
  readonly entryArgs: readonly string[];
}

/** What interop/run.mjs writes to the file SPIFFE_SDK_INTEROP names. */
export interface Deployment {
  /** The temporary folder of the run (removed afterwards). */
  readonly dir: string;
  readonly control: string;
  readonly spireServer: string;
  readonly goPeer: string;
  readonly trustDomains: Readonly<Record<TrustDomainKey, TrustDomainInfo>>;
  readonly workloads: Readonly<Record<WorkloadName, WorkloadInfo>>;
}

function loadDeployment(): Deployment {
  const file = process.env['SPIFFE_SDK_INTEROP'];
  if (file === undefined) {
    throw new Error(
      'SPIFFE_SDK_INTEROP is not set: run the interop tests with `npm run test:interop`',
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Deployment;
}

export const deployment = loadDeployment();
export const runner = deployment.workloads.runner;

/**
 * How long a test waits for something SPIRE does (an entry change reaching the agent, a rotation,
 * an agent restart). Generous, because the CI machine may be busy; tests never wait this long
 * when things work.
 */
export const EVENT_TIMEOUT_MS = 90_000;

/** The Workload API address of a trust domain's agent. */
export function agentAddress(td: TrustDomainKey): string {
  return `unix://${deployment.trustDomains[td].agentSocket}`;
}

/** Runs `spire-server <command...> -socketPath <td's socket> <args...>`; resolves with stdout. */
export function spireServer(
  td: TrustDomainKey,
  command: readonly string[],
  args: readonly string[] = [],
): Promise<string> {
  const argv = [...command, '-socketPath', deployment.trustDomains[td].serverSocket, ...args];
  return new Promise((resolve, reject) => {
    execFile(deployment.spireServer, argv, (error, stdout, stderr) => {
      if (error) reject(new Error(`spire-server ${argv.join(' ')}: ${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** Asks interop/run.mjs to kill (SIGKILL) or start again a trust domain's agent. */
export async function controlAgent(td: TrustDomainKey, action: 'kill' | 'start'): Promise<void> {
  const request = http.request({
    socketPath: deployment.control,
    method: 'POST',
    path: `/agents/${td}/${action}`,
  });
  request.end();
  const [response] = (await once(request, 'response')) as [http.IncomingMessage];
  let body = '';
  for await (const chunk of response) body += String(chunk);
  if (response.statusCode !== 204) throw new Error(`agent ${action} failed: ${body}`);
}

/** Events of a process, kept in order, which tests wait for by predicate. */
export class EventLog<T> {
  readonly #events: T[] = [];
  readonly #waiters = new Set<{
    predicate: (event: T) => boolean;
    resolve: (event: T) => void;
    reject: (error: Error) => void;
  }>();
  #failure: Error | undefined;

  /** How many events arrived so far: pass it to `waitFor` to wait for a later one. */
  get length(): number {
    return this.#events.length;
  }

  get all(): readonly T[] {
    return this.#events;
  }

  push(event: T): void {
    this.#events.push(event);
    for (const waiter of this.#waiters) {
      if (waiter.predicate(event)) {
        this.#waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  }

  /** Makes every pending and later `waitFor` reject (the process is gone). */
  fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }

  /** The first event from index `from` on that matches, waiting up to `timeoutMs` for it. */
  waitFor(
    what: string,
    predicate: (event: T) => boolean,
    from = 0,
    timeoutMs = EVENT_TIMEOUT_MS,
  ): Promise<T> {
    const found = this.#events.slice(from).find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const seen = JSON.stringify(this.#events.slice(from)).slice(0, 2000);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${seen}`));
      }, timeoutMs);
      const waiter = {
        predicate,
        resolve: (event: T) => {
          clearTimeout(timer);
          resolve(event);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }
}

/** A failed request to a Node workload, with the error's `code`. */
export class WorkloadCallError extends Error {
  readonly code: string | undefined;

  constructor(error: WorkloadError) {
    super(error.message);
    this.code = error.code;
  }
}

function forget(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = once(child, 'exit').then(() => undefined);
  child.kill('SIGKILL');
  return exited;
}

/** A Node workload (workload.ts) running under the uid of a registered workload. */
export class NodeWorkload implements AsyncDisposable {
  readonly info: WorkloadInfo;
  readonly events = new EventLog<WorkloadEvent>();
  readonly #child: ChildProcess;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #nextId = 1;

  private constructor(info: WorkloadInfo, child: ChildProcess) {
    this.info = info;
    this.#child = child;
    child.on('message', (message: WorkloadMessage) => {
      if ('event' in message) {
        this.events.push(message);
        return;
      }
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if ('error' in message) pending?.reject(new WorkloadCallError(message.error));
      else pending?.resolve(message.result);
    });
    child.on('exit', (code, signal) => {
      const error = new Error(`workload ${info.id} exited (${String(code ?? signal)})`);
      this.events.fail(error);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
  }

  /** Starts the workload and waits until its X509Source holds its SVID. */
  static async start(name: WorkloadName): Promise<NodeWorkload> {
    const info = deployment.workloads[name];
    const child = fork(fileURLToPath(new URL('./workload.js', import.meta.url)), [], {
      uid: info.uid,
      gid: info.gid,
      env: { PATH: process.env['PATH'], SPIFFE_ENDPOINT_SOCKET: agentAddress(info.trustDomain) },
      execArgv: ['--enable-source-maps'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const workload = new NodeWorkload(info, child);
    try {
      await workload.events.waitFor(
        `the first SVID of ${name}`,
        (e) => e.event === 'update' && e.id === info.id,
      );
    } catch (error) {
      await workload.close();
      throw error;
    }
    return workload;
  }

  /** Sends a request; resolves with its result, rejects with a {@link WorkloadCallError}. */
  call(request: WorkloadRequest): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.send({ id, ...request });
    });
  }

  close(): Promise<void> {
    return forget(this.#child);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A line the go-spiffe peer printed. */
export interface GoPeerEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

function startGoPeer(args: readonly string[]): {
  child: ChildProcessByStdio<Writable, Readable, null>;
  events: EventLog<GoPeerEvent>;
} {
  const info = deployment.workloads.goPeer;
  const child = spawn(deployment.goPeer, args, {
    uid: info.uid,
    gid: info.gid,
    env: { SPIFFE_ENDPOINT_SOCKET: agentAddress(info.trustDomain) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const events = new EventLog<GoPeerEvent>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as GoPeerEvent);
  });
  child.on('exit', (code, signal) => {
    events.fail(new Error(`go-peer ${args.join(' ')} exited (${String(code ?? signal)})`));
  });
  return { child, events };
}

/** Runs a one-shot go-peer command; resolves with its exit code and the lines it printed. */
export async function runGoPeer(
  args: readonly string[],
  input = '',
): Promise<{ code: number | null; events: readonly GoPeerEvent[] }> {
  const { child, events } = startGoPeer(args);
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, events: events.all };
}

/** The go-spiffe peer as an mTLS server; it exits when its stdin closes. */
export class GoServer implements AsyncDisposable {
  readonly port: number;
  readonly events: EventLog<GoPeerEvent>;
  readonly #child: ChildProcess;

  private constructor(port: number, events: EventLog<GoPeerEvent>, child: ChildProcess) {
    this.port = port;
    this.events = events;
    this.#child = child;
  }

  /** Starts `go-peer serve -allow <allow>` and waits until it listens. */
  static async start(allow: string): Promise<GoServer> {
    const { child, events } = startGoPeer(['serve', '-allow', allow]);
    try {
      const listening = await events.waitFor('go-peer to listen', (e) => e.event === 'listening');
      return new GoServer(listening['port'] as number, events, child);
    } catch (error) {
      await forget(child);
      throw error;
    }
  }

  close(): Promise<void> {
    return forget(this.#child);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The outcome of one HTTPS request made by the test process. */
export interface Response {
  readonly status: number | undefined;
  readonly body: string;
  /** The server's SPIFFE ID, as verified by the SDK. */
  readonly server: string | undefined;
  /** The serial number of the certificate the server presented. */
  readonly serial: string;
}

/** One GET through `agent` (a `SpiffeHttpsAgent`). */
export function get(agent: https.Agent, url: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (res) => {
        const socket = res.socket;
        const serial = socket instanceof TLSSocket ? socket.getPeerCertificate().serialNumber : '';
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode, body, server: peerIdOf(res)?.toString(), serial });
        });
      })
      .on('error', reject);
  });
}
