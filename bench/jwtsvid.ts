// JWT-SVID validation throughput, as ratios to the raw cost of the one public-key operation.
//
// For ES256 and RS256: ops/s of a raw node:crypto `verify` of a token's signature (inputs already
// decoded), of `parseAndValidateJwtSvid` on the same token (targets >= 0.9x raw: everything but the
// signature should be noise), and of a warm `JwtSvidValidator` (target >= 50x raw: a cache hit
// must not touch the key). The paths run in short interleaved slices, so background load hits all
// of them alike; each rate is operations per second of this process's CPU time.
// Run: npm run bench -- jwtsvid   (or: npx tsc -p tsconfig.json && node dist/bench/jwtsvid.js)
import { constants, verify } from 'node:crypto';
import { cpus } from 'node:os';
import { base64url } from 'jose';
import { JwtSvidValidator } from '../src/svid/jwt-svid-validator.js';
import { parseAndValidateJwtSvid } from '../src/svid/parse-jwt-svid.js';
import { JwtAuthority } from '../src/testing/jwt-authority.js';

const ROUNDS = 30;
const SLICE_MS = 50;
const AUDIENCE = 'spiffe://example.org/reports';

interface Row {
  alg: string;
  raw: number;
  floor: number;
  full: number;
  cached: number;
  cachedFresh: number;
}

interface Tally {
  ops: number;
  /** CPU time (user + system) of this process: on a shared machine, wall time measures the
   * neighbours as much as the code. */
  cpuMs: number;
}

/** Calls `fn` for about `ms` milliseconds, adding the calls and the CPU time to `tally`. */
async function slice(fn: () => unknown, ms: number, tally: Tally): Promise<void> {
  const batch = 16;
  const start = performance.now();
  const cpu = process.cpuUsage();
  while (performance.now() - start < ms) {
    for (let i = 0; i < batch; i++) {
      // Only the asynchronous paths pay for an await; the raw verify stays synchronous.
      const result = fn();
      if (result instanceof Promise) await result;
    }
    tally.ops += batch;
  }
  const used = process.cpuUsage(cpu);
  tally.cpuMs += (used.user + used.system) / 1000;
}

const rate = (t: Tally): number => (t.ops * 1000) / t.cpuMs;

async function measure(alg: 'ES256' | 'RS256'): Promise<Row> {
  const authority = await JwtAuthority.create({ trustDomain: 'example.org', alg });
  const token = await authority.mint({
    subject: 'spiffe://example.org/ns/prod/sa/web',
    audience: AUDIENCE,
    extraClaims: { iss: 'https://spire.example.org', jti: 'c2b1f0f4-5d0e-4c9a-9d5e-2b8f1e2a7c11' },
  });
  const bundle = authority.jwtBundle();
  const key = bundle.findAuthority(authority.currentKid)!;
  const dot = token.lastIndexOf('.');
  const input = Buffer.from(token.slice(0, dot), 'latin1');
  const signature = base64url.decode(token.slice(dot + 1));
  const rawKey =
    alg === 'ES256'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : { key, padding: constants.RSA_PKCS1_PADDING };
  const raw = (): boolean => {
    if (!verify('sha256', input, rawKey, signature)) throw new Error('raw verify failed');
    return true;
  };
  // The least any JSON-parsing validator must do besides the verify: split, decode the payload,
  // JSON.parse it, look at one claim, decode the signature. A reference for the ratio's ceiling.
  const floor = (): boolean => {
    const first = token.indexOf('.');
    const last = token.lastIndexOf('.');
    const claims = JSON.parse(
      Buffer.from(token.slice(first + 1, last), 'base64url').toString('utf8'),
    ) as { aud?: unknown };
    if (claims.aud !== AUDIENCE) throw new Error('floor: wrong audience');
    const data = Buffer.from(token.slice(0, last), 'latin1');
    if (!verify('sha256', data, rawKey, Buffer.from(token.slice(last + 1), 'base64url'))) {
      throw new Error('floor: verify failed');
    }
    return true;
  };
  const full = (): Promise<unknown> => parseAndValidateJwtSvid(token, bundle, AUDIENCE);
  const validator = new JwtSvidValidator({ bundleSource: bundle, audience: AUDIENCE });
  await validator.validate(token);
  const cached = (): Promise<unknown> => validator.validate(token);
  // A token that arrives in a new request is a new string whose hash V8 has not cached yet.
  const copies = Array.from({ length: 1024 }, () =>
    Buffer.from(token, 'latin1').toString('latin1'),
  );
  let c = 0;
  const cachedFresh = (): Promise<unknown> => validator.validate(copies[c++ & 1023] ?? token);

  const paths = { raw, floor, full, cached, cachedFresh };
  const names = Object.keys(paths) as (keyof typeof paths)[];
  const warmup: Tally = { ops: 0, cpuMs: 0 };
  for (const name of names) await slice(paths[name], 200, warmup); // JIT, key caches
  const tallies = Object.fromEntries(names.map((n) => [n, { ops: 0, cpuMs: 0 }])) as Record<
    keyof typeof paths,
    Tally
  >;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) await slice(paths[name], SLICE_MS, tallies[name]);
  }
  return {
    alg,
    raw: rate(tallies.raw),
    floor: rate(tallies.floor),
    full: rate(tallies.full),
    cached: rate(tallies.cached),
    cachedFresh: rate(tallies.cachedFresh),
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (n: number, d: number): string => `${(n / d).toFixed(2)}x`;

const results = [await measure('ES256'), await measure('RS256')];
console.log(
  '| alg | raw crypto.verify | parseAndValidateJwtSvid | ratio (target >= 0.9x) | inline minimum (reference) | JwtSvidValidator hit | ratio (target >= 50x) | hit, token in a new string | ratio |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
let ok = true;
for (const r of results) {
  console.log(
    `| ${r.alg} | ${fmt(r.raw)} | ${fmt(r.full)} | ${ratio(r.full, r.raw)} | ${ratio(r.floor, r.raw)} | ${fmt(r.cached)} | ${ratio(r.cached, r.raw)} | ${fmt(r.cachedFresh)} | ${ratio(r.cachedFresh, r.raw)} |`,
  );
  if (r.full / r.raw < 0.9 || r.cached / r.raw < 50) ok = false;
}
console.log(
  `\nRates are operations per second of process CPU time (node ${process.version}, ${cpus().length} CPUs).`,
);
console.log(ok ? 'All targets met.' : 'Some targets missed (see ratios).');
