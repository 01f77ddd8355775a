#!/usr/bin/env node
// Runs the compiled tests (dist/test/**/*.test.js) with Node's built-in runner on the Node binary
// that runs this script, so `/path/to/node22 scripts/run-tests.mjs` tests on Node 22.
// Usage: node scripts/run-tests.mjs [--coverage] [filter-substring ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const coverage = args.includes('--coverage');
const filters = args.filter((a) => !a.startsWith('--'));

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

const files = collect('dist/test')
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}

const nodeArgs = ['--test', '--test-reporter=spec', '--enable-source-maps'];
if (coverage) {
  nodeArgs.push('--experimental-test-coverage');
  // Node 20 has no coverage filters; there the report also lists the test files themselves.
  if (process.allowedNodeEnvironmentFlags.has('--test-coverage-exclude')) {
    nodeArgs.push(
      '--test-coverage-exclude=dist/test/**',
      '--test-coverage-exclude=node_modules/**',
    );
  }
}
console.log(`run-tests: node ${process.version}, ${files.length} test files`);
const result = spawnSync(process.execPath, [...nodeArgs, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
