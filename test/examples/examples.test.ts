// Runs every compiled program under examples/ as its own process, on the Node binary running the
// tests, so the documented examples keep working on every Node version CI covers. Each example
// asserts its own outcome (it throws, and so exits non-zero, when a request that must be accepted
// is refused or the reverse), runs on the bundled reference issuer, and must exit by itself: a
// handle left open shows up here as a failure after TIMEOUT_MS.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ChildOutcome, runNode } from '../child-process.js';

const examplesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const programs = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.js'))
  .sort();
const TIMEOUT_MS = 60_000;

function run(file: string): Promise<ChildOutcome> {
  return runNode(['--enable-source-maps', file], {
    // Examples bring their own reference issuer; an agent socket of the developer's must not leak in.
    env: Object.fromEntries(
      Object.entries(process.env).filter(([key]) => key !== 'SPIFFE_ENDPOINT_SOCKET'),
    ),
    timeoutMs: TIMEOUT_MS,
  });
}

describe('examples', () => {
  it('finds the compiled examples', () => {
    assert.ok(programs.length >= 10, `only ${programs.length} examples in ${examplesDir}`);
  });

  for (const name of programs) {
    it(
      `${name} runs to completion and exits 0 by itself`,
      { timeout: TIMEOUT_MS + 5_000 },
      async () => {
        const outcome = await run(join(examplesDir, name));
        assert.equal(outcome.code, 0, `${name} exited ${String(outcome.code)}\n${outcome.stderr}`);
        assert.notEqual(outcome.stdout.trim(), '', `${name} printed nothing`);
      },
    );
  }
});
