#!/usr/bin/env node
// Interop tests against real SPIRE v1.15.3 and go-spiffe (docs/interop.md).
//
//   node interop/run.mjs [--build-only] [-- <node --test options>]
//
// Builds (or reuses) SPIRE and the Go peer in .cache/interop/bin, starts two SPIRE servers and
// agents (trust domains alpha.test and beta.test) on loopback ports and Unix sockets in a
// temporary folder, registers workloads by Unix uid, runs the compiled tests in dist/interop/test
// (`npm run build` first), then stops every process it started and removes the folder, also when
// something fails or the run is interrupted. The exit code is the tests' result. Needs root: the
// workloads are child processes started under other uids, which is how the agent tells them apart.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, '.cache', 'interop', 'bin');
const SPIRE_MODULE = 'github.com/spiffe/spire';
const SPIRE_VERSION = 'v1.15.3';
const SPIRE_SERVER = join(BIN, 'spire-server');
const SPIRE_AGENT = join(BIN, 'spire-agent');
const GO_PEER = join(BIN, 'go-peer');
const TESTS = join(ROOT, 'dist', 'interop', 'test');
// Generous: the machine may be busy, and a cold SPIRE start runs database migrations.
const READY_TIMEOUT_MS = 120_000;
// Between two polls of a readiness check (each poll is a CLI call that itself may wait).
const POLL_INTERVAL_MS = 250;

const args = process.argv.slice(2);
const buildOnly = args.includes('--build-only');
const separator = args.indexOf('--');
const testArgs = separator === -1 ? [] : args.slice(separator + 1);

function log(message) {
  console.log(`interop: ${message}`);
}

function seconds(since) {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

// --- Binaries -----------------------------------------------------------------------------------

/** Whether `bin` is SPIRE_VERSION of SPIRE built with cgo (the sqlite3 datastore needs it). */
function spireIsCurrent(bin) {
  if (!existsSync(bin)) return false;
  const result = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8' });
  if (result.status !== 0) return false;
  const fields = result.stdout.split('\n').map((line) => line.trim().split(/\s+/));
  const module = fields.some(
    ([kind, path, version]) =>
      (kind === 'mod' || kind === 'dep') && path === SPIRE_MODULE && version === SPIRE_VERSION,
  );
  const cgo = fields.some(([kind, setting]) => kind === 'build' && setting === 'CGO_ENABLED=1');
  return module && cgo;
}

function goBuild(cwd, outDir, packages) {
  const result = spawnSync('go', ['build', '-trimpath', '-o', `${outDir}/`, ...packages], {
    cwd,
    env: { ...process.env, CGO_ENABLED: '1' },
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`go build in ${cwd} failed`);
}

function ensureBinaries() {
  mkdirSync(BIN, { recursive: true });
  let start = performance.now();
  if (spireIsCurrent(SPIRE_SERVER) && spireIsCurrent(SPIRE_AGENT)) {
    log(`SPIRE ${SPIRE_VERSION} binaries present in ${BIN}, build skipped`);
  } else {
    log(`building SPIRE ${SPIRE_VERSION} (interop/spire) into ${BIN}`);
    goBuild(join(ROOT, 'interop', 'spire'), BIN, [
      `${SPIRE_MODULE}/cmd/spire-server`,
      `${SPIRE_MODULE}/cmd/spire-agent`,
    ]);
    if (!spireIsCurrent(SPIRE_SERVER) || !spireIsCurrent(SPIRE_AGENT)) {
      throw new Error(`the SPIRE build is not ${SPIRE_VERSION} with CGO_ENABLED=1`);
    }
    log(`SPIRE built in ${seconds(start)}`);
  }
  // Always rebuilt: with Go's build cache this takes about a second when nothing changed.
  start = performance.now();
  goBuild(join(ROOT, 'interop', 'go-peer'), BIN, ['.']);
  log(`go-peer ready in ${seconds(start)}`);
}

// --- Processes ----------------------------------------------------------------------------------

/** Every long-running process this run started, stopped in reverse order by cleanup(). */
const processes = [];

function startProcess(name, command, argv, env, logFile) {
  const out = openSync(logFile, 'a');
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const entry = { name, child, exited: once(child, 'exit') };
  processes.push(entry);
  return entry;
}

async function stopProcess(entry, signal = 'SIGTERM') {
  const { child } = entry;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await entry.exited;
    clearTimeout(killed);
  }
  const index = processes.indexOf(entry);
  if (index !== -1) processes.splice(index, 1);
}

function run(command, argv, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ status: -1, output: error.message }));
    child.on('close', (status) => resolve({ status, output }));
  });
}

async function check(command, argv, options) {
  const { status, output } = await run(command, argv, options);
  if (status !== 0) throw new Error(`${command} ${argv.join(' ')} failed:\n${output}`);
  return output;
}

/** Polls `probe` (a command) until it succeeds; fails early if `entry` exits. */
async function waitFor(what, probe, entry) {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let last = '';
  for (;;) {
    if (entry && (entry.child.exitCode !== null || entry.child.signalCode !== null)) {
      throw new Error(`${entry.name} exited while waiting for ${what}`);
    }
    const { status, output } = await probe();
    if (status === 0) return;
    last = output;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${last}`);
    await delay(POLL_INTERVAL_MS);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// --- SPIRE --------------------------------------------------------------------------------------

const TRUST_DOMAINS = { alpha: 'alpha.test', beta: 'beta.test' };

/**
 * The workloads, each a Unix uid with one registration entry. The runner's tests run as root
 * (uid 0, "runner"); the others are child processes the tests start under their uid.
 */
const WORKLOADS = {
  runner: { td: 'alpha', uid: 0, path: '/runner', federatesWith: ['beta'] },
  nodeServer: { td: 'alpha', uid: 47001, path: '/node-server' },
  intruder: { td: 'alpha', uid: 47002, path: '/intruder' },
  // A short X.509-SVID TTL. The agent renews an SVID when half its lifetime, ±10 %, is left;
  // SPIRE backdates certificates by 10 s, so a 30 s SVID is renewed 8-12 s after it is issued.
  rotating: { td: 'alpha', uid: 47003, path: '/rotating', x509SvidTtl: 30 },
  withdrawn: { td: 'alpha', uid: 47004, path: '/withdrawn' },
  goPeer: { td: 'alpha', uid: 47005, path: '/go-peer' },
  betaServer: { td: 'beta', uid: 47006, path: '/beta-server' },
};

function spiffeId(td, path) {
  return `spiffe://${TRUST_DOMAINS[td]}${path}`;
}

async function startServer(dir, td) {
  const tdDir = join(dir, td);
  mkdirSync(join(tdDir, 'server-data'), { recursive: true });
  const serverPort = await freePort();
  const bundleEndpointPort = await freePort();
  const env = {
    DIR: tdDir,
    TRUST_DOMAIN: TRUST_DOMAINS[td],
    SERVER_PORT: String(serverPort),
    BUNDLE_ENDPOINT_PORT: String(bundleEndpointPort),
  };
  const conf = join(ROOT, 'interop', 'spire', 'server.conf');
  const entry = startProcess(
    `spire-server (${td})`,
    SPIRE_SERVER,
    ['run', '-config', conf, '-expandEnv'],
    env,
    join(tdDir, 'server.out'),
  );
  const socketPath = join(tdDir, 'server.sock');
  await waitFor(
    `spire-server (${td})`,
    () => run(SPIRE_SERVER, ['healthcheck', '-socketPath', socketPath]),
    entry,
  );
  return { td, dir: tdDir, serverPort, bundleEndpointPort, socketPath };
}

function serverCli(server, command, argv) {
  return check(SPIRE_SERVER, [...command, '-socketPath', server.socketPath, ...argv]);
}

/** Starts (or restarts, reusing its data folder and so its SVID) the agent of `server`. */
async function startAgent(server, joinToken) {
  const env = {
    DIR: server.dir,
    TRUST_DOMAIN: TRUST_DOMAINS[server.td],
    SERVER_PORT: String(server.serverPort),
    JOIN_TOKEN: joinToken,
  };
  const conf = join(ROOT, 'interop', 'spire', 'agent.conf');
  const entry = startProcess(
    `spire-agent (${server.td})`,
    SPIRE_AGENT,
    ['run', '-config', conf, '-expandEnv'],
    env,
    join(server.dir, 'agent.out'),
  );
  const socketPath = join(server.dir, 'agent.sock');
  await waitFor(
    `spire-agent (${server.td})`,
    () => run(SPIRE_AGENT, ['healthcheck', '-socketPath', socketPath]),
    entry,
  );
  return { entry, socketPath };
}

async function bootstrapAgent(server) {
  writeFileSync(
    join(server.dir, 'bootstrap-bundle.pem'),
    await serverCli(server, ['bundle', 'show'], []),
  );
  mkdirSync(join(server.dir, 'agent-data'), { recursive: true });
  const generated = await serverCli(server, ['token', 'generate'], ['-ttl', '600']);
  const token = /Token: (\S+)/.exec(generated)?.[1];
  if (token === undefined) throw new Error(`no join token in: ${generated}`);
  const agent = await startAgent(server, token);
  return {
    ...agent,
    token,
    id: `spiffe://${TRUST_DOMAINS[server.td]}/spire/agent/join_token/${token}`,
  };
}

/** `spire-server entry create`/`update` arguments of a workload (also used by the tests). */
function entryArgs(name, workload, agentId) {
  const argv = [
    '-entryID',
    name,
    '-parentID',
    agentId,
    '-spiffeID',
    spiffeId(workload.td, workload.path),
    '-selector',
    `unix:uid:${workload.uid}`,
  ];
  if (workload.x509SvidTtl !== undefined) argv.push('-x509SVIDTTL', String(workload.x509SvidTtl));
  for (const td of workload.federatesWith ?? [])
    argv.push('-federatesWith', `spiffe://${TRUST_DOMAINS[td]}`);
  return argv;
}

// --- Control socket: lets the tests kill and restart an agent this process owns ---------------

function startControl(socketPath, agents) {
  const server = createServer((req, res) => {
    const match = /^\/agents\/(alpha|beta)\/(kill|start)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || match === null) {
      res.writeHead(404).end();
      return;
    }
    const [, td, action] = match;
    const agent = agents[td];
    const running = agent.entry.child.exitCode === null && agent.entry.child.signalCode === null;
    const act =
      action === 'kill'
        ? stopProcess(agent.entry, 'SIGKILL')
        : running
          ? Promise.resolve()
          : startAgent(agent.server, agent.token).then((started) => {
              agent.entry = started.entry;
            });
    act.then(
      () => res.writeHead(204).end(),
      (error) => res.writeHead(500).end(String(error)),
    );
  });
  server.listen(socketPath);
  return server;
}

// --- Main ---------------------------------------------------------------------------------------

let dir;
let control;
let tests;
let cleaning;
/** Folders whose mode openSearchPath() changed, with the mode to restore. */
const reopened = [];

/**
 * Workloads run under other uids and need the repository (dist/, node_modules/, the SPIRE
 * binaries in .cache/). A checkout under a private folder (mktemp -d makes 0700 folders) would
 * refuse them, so every folder above the repository that others cannot search gets the search bit
 * (not the read bit: nothing becomes listable) for the run, and its mode back in cleanup().
 */
function openSearchPath(path) {
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    const { mode } = statSync(folder);
    if ((mode & 0o001) === 0) {
      chmodSync(folder, mode | 0o001);
      reopened.push({ folder, mode });
    }
    if (dirname(folder) === folder) return;
  }
}

async function cleanup() {
  cleaning ??= (async () => {
    // The tests run in their own process group: this also ends any workload they left behind.
    if (tests !== undefined) {
      try {
        process.kill(-tests.pid, 'SIGKILL');
      } catch {
        // no process of the group is left
      }
    }
    control?.close();
    for (const entry of [...processes].reverse()) await stopProcess(entry);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    for (const { folder, mode } of reopened.splice(0).reverse()) chmodSync(folder, mode & 0o7777);
  })();
  return cleaning;
}

function printLogs() {
  if (dir === undefined) return;
  for (const td of Object.keys(TRUST_DOMAINS)) {
    for (const name of ['server.log', 'agent.log', 'server.out', 'agent.out']) {
      const file = join(dir, td, name);
      if (!existsSync(file)) continue;
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      console.log(`\n--- last lines of ${td}/${name} ---\n${lines.slice(-30).join('\n')}`);
    }
  }
}

async function main() {
  if (spawnSync('go', ['version']).status !== 0) throw new Error('`go` is not on the PATH');
  if (process.getuid?.() !== 0) {
    throw new Error('must run as root: workloads are started under other uids');
  }
  ensureBinaries();
  if (buildOnly) return 0;
  if (!existsSync(TESTS)) throw new Error(`no compiled tests in ${TESTS}: run \`npm run build\``);

  const start = performance.now();
  openSearchPath(join(ROOT, 'package.json'));
  dir = mkdtempSync(join(tmpdir(), 'spiffe-sdk-interop-'));
  // Workloads under other uids must reach the agent sockets inside.
  chmodSync(dir, 0o755);
  const [alpha, beta] = await Promise.all([startServer(dir, 'alpha'), startServer(dir, 'beta')]);
  const [alphaAgent, betaAgent] = await Promise.all([bootstrapAgent(alpha), bootstrapAgent(beta)]);
  log(`servers and agents up in ${seconds(start)}`);

  // alpha.test federates with beta.test through SPIRE's own https_spiffe bundle endpoint, starting
  // from beta's current bundle (the https_spiffe profile needs it to authenticate the endpoint).
  const betaBundle = join(dir, 'beta-bundle.json');
  writeFileSync(betaBundle, await serverCli(beta, ['bundle', 'show'], ['-format', 'spiffe']));
  await serverCli(
    alpha,
    ['federation', 'create'],
    [
      '-trustDomain',
      TRUST_DOMAINS.beta,
      '-bundleEndpointURL',
      `https://127.0.0.1:${beta.bundleEndpointPort}`,
      '-bundleEndpointProfile',
      'https_spiffe',
      '-endpointSpiffeID',
      `spiffe://${TRUST_DOMAINS.beta}/spire/server`,
      '-trustDomainBundlePath',
      betaBundle,
      '-trustDomainBundleFormat',
      'spiffe',
    ],
  );

  const servers = { alpha, beta };
  const agents = {
    alpha: { server: alpha, ...alphaAgent },
    beta: { server: beta, ...betaAgent },
  };
  const workloads = {};
  for (const [name, workload] of Object.entries(WORKLOADS)) {
    const agent = agents[workload.td];
    const argv = entryArgs(name, workload, agent.id);
    await serverCli(servers[workload.td], ['entry', 'create'], argv);
    workloads[name] = {
      uid: workload.uid,
      gid: workload.uid,
      id: spiffeId(workload.td, workload.path),
      trustDomain: workload.td,
      entryArgs: argv,
    };
  }
  // Every workload can fetch its SVID before any test starts.
  await Promise.all(
    Object.entries(WORKLOADS).map(([name, workload]) =>
      waitFor(`the SVID of ${name}`, () =>
        run(
          SPIRE_AGENT,
          ['api', 'fetch', 'x509', '-silent', '-socketPath', agents[workload.td].socketPath],
          { uid: workload.uid, gid: workload.uid },
        ),
      ),
    ),
  );
  log(`entries registered and issued in ${seconds(start)}`);

  const controlSocket = join(dir, 'control.sock');
  control = startControl(controlSocket, agents);
  const deployment = {
    dir,
    control: controlSocket,
    spireServer: SPIRE_SERVER,
    goPeer: GO_PEER,
    trustDomains: Object.fromEntries(
      Object.entries(servers).map(([td, server]) => [
        td,
        {
          name: TRUST_DOMAINS[td],
          serverSocket: server.socketPath,
          agentSocket: agents[td].socketPath,
          bundleEndpointUrl: `https://127.0.0.1:${server.bundleEndpointPort}/`,
          serverId: `spiffe://${TRUST_DOMAINS[td]}/spire/server`,
        },
      ]),
    ),
    workloads,
  };
  const deploymentFile = join(dir, 'deployment.json');
  writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2));

  const files = readdirSync(TESTS)
    .filter((name) => name.endsWith('.test.js'))
    .sort()
    .map((name) => join(TESTS, name));
  tests = spawn(
    process.execPath,
    [
      '--test',
      // One SPIRE deployment is shared, and some tests restart the agent or delete entries.
      '--test-concurrency=1',
      '--test-reporter=spec',
      '--enable-source-maps',
      ...testArgs,
      ...files,
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: 'inherit',
      env: {
        ...process.env,
        SPIFFE_ENDPOINT_SOCKET: `unix://${agents.alpha.socketPath}`,
        SPIFFE_SDK_INTEROP: deploymentFile,
      },
    },
  );
  const [code] = await once(tests, 'exit');
  log(`tests finished in ${seconds(start)} (setup included)`);
  return code ?? 1;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true;
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
  });
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  console.error(`interop: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  if (exitCode !== 0 && !interrupted) printLogs();
  await cleanup();
}
process.exit(exitCode);
