#!/usr/bin/env node
// Regenerates the Workload API TypeScript (messages + @grpc/grpc-js service definitions) from
// proto/workload.proto with ts-proto, driven by buf. Both tools come from npm (ts-proto as a dev
// dependency, buf installed into .cache/ by scripts/ensure-buf.sh);
// buf compiles the .proto itself and ships google/protobuf/struct.proto, so no protoc download.
// Usage: node scripts/gen-proto.mjs [--out <dir>]   (default: src/workloadapi/gen)
// The generated files are committed; test/workloadapi/proto-fresh.test.ts checks they are current.
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const outArg = outIndex === -1 ? join(root, 'src/workloadapi/gen') : args[outIndex + 1];
if (outArg === undefined || outArg === '' || outArg.startsWith('--')) {
  console.error('gen-proto: --out needs a directory');
  process.exit(2);
}
const out = resolve(outArg);
// The output directory is wiped first; never let a typo wipe the repository or a parent of it.
if (root === out || root.startsWith(out + sep)) {
  console.error(`gen-proto: refusing to write into ${out}`);
  process.exit(2);
}

const bin = (name) =>
  join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
// buf comes from .cache/buf (scripts/ensure-buf.sh installs it there; see why in that script).
const buf = join(root, '.cache', 'buf', 'node_modules', '.bin', 'buf');
const plugin = bin('protoc-gen-ts_proto');
for (const tool of [buf, plugin]) {
  if (!existsSync(tool)) {
    console.error(
      `gen-proto: ${tool} is missing; run \`npm install\` and \`bash scripts/ensure-buf.sh\` first`,
    );
    process.exit(2);
  }
}

// ts-proto options: grpc-js service definitions, ESM-friendly imports, Node Buffers for bytes.
const opt = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'importSuffix=.js',
  'env=node',
  'useExactTypes=false',
];
const template = JSON.stringify({
  version: 'v2',
  plugins: [{ local: plugin, out, opt, strategy: 'all' }],
});

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = spawnSync(buf, ['generate', join(root, 'proto'), '--template', template], {
  cwd: root,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (result.error) {
  console.error(`gen-proto: cannot run buf: ${result.error.message}`);
  process.exit(2);
}
process.exit(result.status ?? 1);
