// Per-call cost of X509-SVID chain verification, the check that runs on every TLS handshake.
//
// Rows: leaf -> root and leaf -> intermediate -> root, each
//   - pre-parsed: `verifyX509Svid` on `X509Certificate`s the caller already holds (warm caches:
//     certificate facts and signature results are memoized per certificate object),
//   - raw DER, cached: `parseAndVerifyX509Svid` on DER seen before (the DER -> certificate LRU hits),
//   - raw DER, cold: the same with the LRU cleared before every call, so every certificate is parsed
//     by OpenSSL, its facts are read from DER and every signature is verified (a first handshake).
// The cases run in short interleaved slices, so background load hits all of them alike.
// Run: npm run bench -- x509svid   (or: npx tsc -p tsconfig.json && node dist/bench/x509svid.js)
import type { X509Certificate } from 'node:crypto';
import type { X509Bundle } from '../src/bundle/x509-bundle.js';
import { clearCertificateCache } from '../src/internal/x509/cert-cache.js';
import { parseAndVerifyX509Svid, verifyX509Svid } from '../src/svid/verify-x509-svid.js';
import { TestCA } from '../src/testing/test-ca.js';

const ROUNDS = 20;
const SLICE_MS = 40;

interface Case {
  readonly name: string;
  readonly run: () => unknown;
  ops: number;
  ms: number;
}

function slice(c: Case): void {
  const start = performance.now();
  let now = start;
  while (now - start < SLICE_MS) {
    for (let i = 0; i < 8; i++) c.run();
    c.ops += 8;
    now = performance.now();
  }
  c.ms += now - start;
}

function cases(label: string, chain: readonly X509Certificate[], bundle: X509Bundle): Case[] {
  const der = chain.map((c) => new Uint8Array(c.raw));
  return [
    { name: `${label}, pre-parsed`, run: () => verifyX509Svid(chain, bundle), ops: 0, ms: 0 },
    {
      name: `${label}, raw DER (cached)`,
      run: () => parseAndVerifyX509Svid(der, bundle),
      ops: 0,
      ms: 0,
    },
    {
      name: `${label}, raw DER (cold)`,
      run: () => {
        clearCertificateCache();
        return parseAndVerifyX509Svid(der, bundle);
      },
      ops: 0,
      ms: 0,
    },
  ];
}

const direct = await TestCA.create({ trustDomain: 'example.org' });
const layered = await TestCA.create({ trustDomain: 'example.org', intermediates: 1 });
const leafRoot = await direct.issueX509Svid('spiffe://example.org/ns/prod/sa/web');
const leafInterRoot = await layered.issueX509Svid('spiffe://example.org/ns/prod/sa/web');
const all = [
  ...cases('leaf → root', leafRoot.certificates, direct.x509Bundle()),
  ...cases('leaf → intermediate → root', leafInterRoot.certificates, layered.x509Bundle()),
];
for (const c of all) c.run(); // warm up, and fail fast if anything does not verify
for (let r = 0; r < ROUNDS; r++) for (const c of all) slice(c);

console.log('| case (EC P-256) | µs/op | ops/s |');
console.log('|---|---:|---:|');
for (const c of all) {
  const us = (c.ms * 1000) / c.ops;
  console.log(`| ${c.name} | ${us.toFixed(1)} | ${Math.round(1e6 / us).toLocaleString('en-US')} |`);
}
