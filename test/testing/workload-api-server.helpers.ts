// A raw @grpc/grpc-js client over the generated definitions (deliberately not the SDK's client),
// and small helpers to read its streams and unary answers as promises.
import {
  credentials,
  Metadata,
  status,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import type { WorkloadApiServer } from '../../src/testing/workload-api-server.js';
import {
  SpiffeWorkloadAPIClient,
  type JWTSVIDRequest,
  type JWTSVIDResponse,
  type ValidateJWTSVIDRequest,
  type ValidateJWTSVIDResponse,
} from '../../src/workloadapi/gen/workload.js';

export { status };
export type RawClient = SpiffeWorkloadAPIClient;

/** A raw client for `server`, closed by the caller. */
export function rawClient(server: WorkloadApiServer): SpiffeWorkloadAPIClient {
  return new SpiffeWorkloadAPIClient(server.grpcTarget, credentials.createInsecure());
}

/** Metadata with the security header (or the given values for it) and extra entries. */
export function header(
  values: readonly string[] | null = ['true'],
  extra: Record<string, string> = {},
): Metadata {
  const md = new Metadata();
  for (const v of values ?? []) md.add('workload.spiffe.io', v);
  for (const [k, v] of Object.entries(extra)) md.add(k, v);
  return md;
}

/** The outcome of a call that ended: OK or a gRPC status error. */
export interface Ended {
  readonly code: number;
  readonly details: string;
}

/** Reads a server stream message by message; `ended` settles with the final status. */
export class StreamReader<T> {
  readonly #queue: T[] = [];
  readonly #waiting: ((value: IteratorResult<T>) => void)[] = [];
  #end: Ended | undefined;
  readonly ended: Promise<Ended>;

  constructor(readonly stream: ClientReadableStream<T>) {
    let resolveEnded!: (e: Ended) => void;
    this.ended = new Promise<Ended>((r) => (resolveEnded = r));
    const finish = (e: Ended): void => {
      if (this.#end) return;
      this.#end = e;
      resolveEnded(e);
      for (const w of this.#waiting.splice(0)) w({ done: true, value: undefined });
    };
    stream.on('data', (m: T) => {
      const w = this.#waiting.shift();
      if (w) w({ done: false, value: m });
      else this.#queue.push(m);
    });
    stream.on('error', (err: ServiceError) => {
      finish({ code: err.code, details: err.details });
    });
    stream.on('status', (s: { code: status; details: string }) => {
      if (s.code === status.OK) finish({ code: s.code, details: s.details });
    });
  }

  /** How many messages arrived and were not read yet. */
  get buffered(): number {
    return this.#queue.length;
  }

  /** The next message; rejects when the stream ended instead. */
  async next(): Promise<T> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return queued;
    if (this.#end) throw new Error(`stream ended: ${this.#describeEnd()}`);
    const r = await new Promise<IteratorResult<T>>((resolve) => this.#waiting.push(resolve));
    if (r.done === true) throw new Error(`stream ended: ${this.#describeEnd()}`);
    return r.value;
  }

  #describeEnd(): string {
    const end = this.#end;
    return end ? `${end.code} ${end.details}` : 'unknown';
  }

  /** Cancels the stream (client side). */
  cancel(): void {
    this.stream.cancel();
  }
}

/** Opens a server stream with `md` and returns its reader. */
export function open<T>(
  call: (req: Record<string, never>, md: Metadata) => ClientReadableStream<T>,
  md: Metadata = header(),
): StreamReader<T> {
  return new StreamReader(call({}, md));
}

/** A unary answer: the response, or the status error. */
export type UnaryResult<Res> =
  { response: Res; error?: undefined } | { response?: undefined; error: ServiceError };

function settle<Res>(
  resolve: (r: UnaryResult<Res>) => void,
): (error: ServiceError | null, response: Res) => void {
  return (error, response) => {
    if (error) resolve({ error });
    else resolve({ response });
  };
}

/** FetchJWTSVID as a promise. */
export function fetchJwtSvid(
  client: SpiffeWorkloadAPIClient,
  request: JWTSVIDRequest,
  md: Metadata = header(),
): Promise<UnaryResult<JWTSVIDResponse>> {
  return new Promise((resolve) => client.fetchJwtsvid(request, md, settle(resolve)));
}

/** ValidateJWTSVID as a promise. */
export function validateJwtSvid(
  client: SpiffeWorkloadAPIClient,
  request: ValidateJWTSVIDRequest,
  md: Metadata = header(),
): Promise<UnaryResult<ValidateJWTSVIDResponse>> {
  return new Promise((resolve) => client.validateJwtsvid(request, md, settle(resolve)));
}

/** Asserts-free helper: the first message of a stream, or the status it ended with. */
export async function firstOrStatus<T>(reader: StreamReader<T>): Promise<T | Ended> {
  return Promise.race([reader.next(), reader.ended]);
}
