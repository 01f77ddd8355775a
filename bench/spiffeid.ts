// Parse throughput of spiffe-sdk/spiffeid. Standalone: `node dist/bench/spiffeid.js` after the
// build (or `npm run bench`). Prints a markdown table; takes about 7 seconds.
import { matchOneOf, SpiffeId, TrustDomain, MAX_SPIFFE_ID_LENGTH } from '../src/spiffeid/index.js';

const SECONDS_PER_CASE = 0.8;

interface Case {
  readonly name: string;
  readonly bytes: number;
  readonly run: () => unknown;
}

const shortId = 'spiffe://example.org/web';
const typicalId = 'spiffe://prod.example.org/ns/payments/sa/web-frontend';
const longId = `spiffe://example.org/${'segment-0123456789/'.repeat(107)}end`.slice(
  0,
  MAX_SPIFFE_ID_LENGTH,
);
const invalidId = 'spiffe://example.org/ns//web';
const peers = Array.from({ length: 100 }, (_, i) =>
  SpiffeId.parse(`spiffe://example.org/svc/${i}`),
);
const oneOf100 = matchOneOf(...peers);
const candidate = SpiffeId.parse('spiffe://example.org/svc/99');

function rejects(input: string): boolean {
  try {
    SpiffeId.parse(input);
    return false;
  } catch {
    return true;
  }
}

const cases: readonly Case[] = [
  { name: 'SpiffeId.parse (short)', bytes: shortId.length, run: () => SpiffeId.parse(shortId) },
  {
    name: 'SpiffeId.parse (typical)',
    bytes: typicalId.length,
    run: () => SpiffeId.parse(typicalId),
  },
  {
    name: 'SpiffeId.parse (long, max size)',
    bytes: longId.length,
    run: () => SpiffeId.parse(longId),
  },
  {
    name: 'SpiffeId.parse (invalid, throws)',
    bytes: invalidId.length,
    run: () => rejects(invalidId),
  },
  {
    name: 'TrustDomain.parse (name)',
    bytes: 'example.org'.length,
    run: () => TrustDomain.parse('example.org'),
  },
  {
    name: 'TrustDomain.parse (from ID)',
    bytes: typicalId.length,
    run: () => TrustDomain.parse(typicalId),
  },
  {
    name: 'matchOneOf(100 IDs) check',
    bytes: candidate.toString().length,
    run: () => oneOf100(candidate),
  },
];

// Keeps results observable so the JIT cannot drop the work.
let sink = 0;

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// Runs for SECONDS_PER_CASE of wall time, but divides by the CPU time the process got, so that
// other load on the machine stretches the run rather than skewing the result.
function measure(c: Case): { opsPerSec: number; nsPerOp: number } {
  for (let i = 0; i < 20_000; i++) if (c.run()) sink++;
  let ops = 0;
  let batch = 1_000;
  const wallStart = performance.now();
  const cpuStart = cpuSeconds();
  while (performance.now() - wallStart < SECONDS_PER_CASE * 1000) {
    for (let i = 0; i < batch; i++) if (c.run()) sink++;
    ops += batch;
    if (performance.now() - wallStart < SECONDS_PER_CASE * 100) batch *= 2;
  }
  const seconds = cpuSeconds() - cpuStart;
  return { opsPerSec: ops / seconds, nsPerOp: (seconds * 1e9) / ops };
}

function format(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

if (!rejects(invalidId) || rejects(longId)) throw new Error('bench inputs are not what they claim');

const rows = cases.map((c) => ({ c, ...measure(c) }));
console.log('| case | input bytes | ops/s | ns/op |');
console.log('| --- | ---: | ---: | ---: |');
for (const { c, opsPerSec, nsPerOp } of rows) {
  console.log(`| ${c.name} | ${c.bytes} | ${format(opsPerSec)} | ${nsPerOp.toFixed(0)} |`);
}
console.log(
  `\n(node ${process.version}, ${process.arch}; CPU time per op, about ${SECONDS_PER_CASE} s wall per case; sink ${sink > 0 ? 'ok' : 'empty'})`,
);
