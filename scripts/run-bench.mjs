#!/usr/bin/env node
// Runs the compiled benchmarks (dist/bench/*.js) one after another; each prints a markdown table.
// Usage: node scripts/run-bench.mjs [name-substring ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const filters = process.argv.slice(2);
const files = readdirSync('dist/bench')
  .filter((f) => f.endsWith('.js'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
let failed = false;
for (const f of files) {
  console.log(`\n## ${f.replace(/\.js$/, '')} (node ${process.version})\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', `dist/bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
