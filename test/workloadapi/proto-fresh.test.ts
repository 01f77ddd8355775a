// The generated Workload API code in src/workloadapi/gen/ is committed; this test regenerates it
// from proto/workload.proto into a temporary directory and fails when the two differ, so a
// changed .proto (or codegen version) cannot ship with stale generated code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/test/workloadapi/ → repository root.
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const committed = join(root, 'src/workloadapi/gen');
const buf = join(root, '.cache/buf/node_modules/.bin/buf');
const plugin = join(
  root,
  'node_modules/.bin',
  process.platform === 'win32' ? 'protoc-gen-ts_proto.cmd' : 'protoc-gen-ts_proto',
);

function files(base: string, dir = base): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...files(base, full));
    else out.push(relative(base, full).split('\\').join('/'));
  }
  return out.sort();
}

/** Why the code generator cannot run here, or undefined when it can. */
function whyCodegenUnavailable(): string | undefined {
  if (!existsSync(buf) || !existsSync(plugin)) {
    return 'buf or ts-proto is not installed; run `npm install` and `bash scripts/ensure-buf.sh`';
  }
  const version = spawnSync(buf, ['--version'], {
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  if (version.error !== undefined || version.status !== 0) {
    return `buf cannot run on this machine: ${version.error?.message ?? version.stderr}`;
  }
  return undefined;
}

describe('generated Workload API code', () => {
  const skip = whyCodegenUnavailable();
  it('matches what `npm run proto` generates from proto/workload.proto', { skip }, () => {
    const out = mkdtempSync(join(tmpdir(), 'spiffe-proto-'));
    try {
      const gen = spawnSync(process.execPath, [join(root, 'scripts/gen-proto.mjs'), '--out', out], {
        cwd: root,
        encoding: 'utf8',
      });
      assert.equal(gen.status, 0, `gen-proto failed:\n${gen.stdout}\n${gen.stderr}`);
      const fresh = files(out);
      assert.ok(fresh.includes('workload.ts'), 'the generator produced workload.ts');
      assert.deepEqual(files(committed), fresh, 'the same files (run `npm run proto`)');
      for (const name of fresh) {
        const want = readFileSync(join(out, name), 'utf8').split('\n');
        const have = readFileSync(join(committed, name), 'utf8').split('\n');
        const line = want.findIndex((l, i) => l !== have[i]);
        const at = line === -1 && want.length !== have.length ? want.length : line;
        assert.equal(
          at,
          -1,
          `src/workloadapi/gen/${name} is stale at line ${at + 1} (run \`npm run proto\` and ` +
            `commit the result):\n  committed: ${have[at]?.slice(0, 160) ?? '<end of file>'}\n` +
            `  generated: ${want[at]?.slice(0, 160) ?? '<end of file>'}`,
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('declares the service without a proto package, as the standard does', () => {
    const source = readFileSync(join(committed, 'workload.ts'), 'utf8');
    for (const method of [
      'FetchX509SVID',
      'FetchX509Bundles',
      'FetchJWTSVID',
      'FetchJWTBundles',
      'ValidateJWTSVID',
    ]) {
      assert.ok(source.includes(`path: "/SpiffeWorkloadAPI/${method}"`), method);
    }
  });
});
