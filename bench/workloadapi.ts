// Workload API client latency against the in-process WorkloadApiServer (unix socket):
// - push → visible: from the moment the server starts pushing a rotated SVID until
//   X509Source.getX509Svid() returns it (the update listener fires), compared with a raw
//   @grpc/grpc-js stream receiving the same push (transport only, no checks);
// - create → first SVID: X509Source.create() with a fresh client until it resolves.
// Prints a markdown table. Run: npm run bench -- workloadapi
import { credentials, Metadata } from '@grpc/grpc-js';
import { TestCA } from '../src/testing/test-ca.js';
import { WorkloadApiServer } from '../src/testing/workload-api-server.js';
import { SpiffeWorkloadAPIClient } from '../src/workloadapi/gen/workload.js';
import { X509Source } from '../src/workloadapi/index.js';

const ROTATIONS = Number(process.env['BENCH_ROTATIONS'] ?? 300);
const CREATES = Number(process.env['BENCH_CREATES'] ?? 50);

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

function summary(samples: number[]): { p50: number; p99: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

const ms = (v: number): string => `${v.toFixed(2)} ms`;

async function main(): Promise<void> {
  const ca = await TestCA.create({ trustDomain: 'example.org' });
  const svids = await Promise.all([
    ca.issueX509Svid('spiffe://example.org/web'),
    ca.issueX509Svid('spiffe://example.org/web'),
  ]);
  const server = await WorkloadApiServer.create({
    identity: { x509Svids: [svids[0]], x509Bundle: ca.x509Bundle() },
  });

  // Each push is timed from the moment the server starts sending until the receiver has it; the
  // raw stream and the source run in separate phases so neither delays the other.
  const push = async (wait: () => Promise<void>, n: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < n + 20; i++) {
      const svid = svids[(i + 1) % 2]!;
      const received = wait();
      const start = performance.now();
      await server.updateIdentity({ x509Svids: [svid] });
      await received;
      if (i >= 20) samples.push(performance.now() - start);
    }
    return samples;
  };

  // Baseline: a raw @grpc/grpc-js FetchX509SVID stream (transport and protobuf decoding only).
  const raw = new SpiffeWorkloadAPIClient(server.grpcTarget, credentials.createInsecure());
  const md = new Metadata();
  md.set('workload.spiffe.io', 'true');
  const rawStream = raw.fetchX509Svid({}, md);
  rawStream.on('error', () => undefined);
  const nextRaw = (): Promise<void> =>
    new Promise((resolve) => {
      rawStream.once('data', () => {
        resolve();
      });
    });
  await nextRaw();
  const rawSamples = await push(nextRaw, ROTATIONS);
  rawStream.cancel();
  raw.close();

  // The SDK: the update listener runs once getX509Svid() returns the new SVID.
  const source = await X509Source.create({ address: server.address, timeout: 10_000 });
  const nextSdk = (): Promise<void> =>
    new Promise((resolve) => {
      const off = source.onUpdate(() => {
        off();
        resolve();
      });
    });
  const sdkSamples = await push(nextSdk, ROTATIONS);
  const last = svids[(ROTATIONS + 20) % 2 === 0 ? 0 : 1];
  if (source.getX509Svid().certificates[0]?.raw.equals(last.certificates[0]!.raw) !== true) {
    throw new Error('the source does not show the last pushed SVID');
  }
  await source.close();

  const createSamples: number[] = [];
  for (let i = 0; i < CREATES + 5; i++) {
    const start = performance.now();
    const s = await X509Source.create({ address: server.address, timeout: 10_000 });
    s.getX509Svid();
    const elapsed = performance.now() - start;
    await s.close();
    if (i >= 5) createSamples.push(elapsed);
  }
  await server.close();

  const sdk = summary(sdkSamples);
  const rawS = summary(rawSamples);
  const create = summary(createSamples);
  console.log(`| measurement | samples | p50 | p99 | mean |`);
  console.log(`|---|---:|---:|---:|---:|`);
  console.log(
    `| push → new SVID visible in X509Source | ${sdkSamples.length} | ${ms(sdk.p50)} | ${ms(sdk.p99)} | ${ms(sdk.mean)} |`,
  );
  console.log(
    `| push → message received by a raw grpc-js stream (baseline) | ${rawSamples.length} | ${ms(rawS.p50)} | ${ms(rawS.p99)} | ${ms(rawS.mean)} |`,
  );
  console.log(
    `| X509Source.create() → first SVID (new client each time) | ${createSamples.length} | ${ms(create.p50)} | ${ms(create.p99)} | ${ms(create.mean)} |`,
  );
}

await main();
