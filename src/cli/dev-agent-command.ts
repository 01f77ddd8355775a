import { parseArgs } from 'node:util';
import { DevAgent } from '../testing/dev-agent.js';

const HELP = `Usage: spiffe-sdk dev-agent [options]

Serves the SPIFFE Workload API on a unix socket from an in-process test CA, for local
development without SPIRE. Issues X509-SVIDs for the given SPIFFE IDs (the first is the
default), re-issues them at half their lifetime, and mints JWT-SVIDs on request.

Options:
  --trust-domain <name>   trust domain (default: example.org)
  --id <spiffe-id>        SPIFFE ID to issue; repeat for several (default: spiffe://<td>/workload)
  --socket <path>         unix socket path (default: agent.sock in a new temp directory)
  --svid-ttl <seconds>    X509-SVID lifetime (default: 60)
  -h, --help              show this help

Stops on SIGINT or SIGTERM and removes its socket.`;

/** Runs `spiffe-sdk dev-agent`; resolves with the exit code when the agent stops. */
export async function devAgentCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'trust-domain': { type: 'string' },
      id: { type: 'string', multiple: true },
      socket: { type: 'string' },
      'svid-ttl': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  let started = false;
  const ttl = values['svid-ttl'] === undefined ? undefined : Number(values['svid-ttl']);
  const agent = await DevAgent.create({
    ...(values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] }),
    ...(values.id === undefined ? {} : { ids: values.id }),
    ...(values.socket === undefined ? {} : { socketPath: values.socket }),
    ...(ttl === undefined ? {} : { svidTtlSeconds: ttl }),
    onRotate: (svids) => {
      if (!started) return;
      const expiry = svids[0]?.expiresAt.toISOString() ?? '';
      console.log(`rotated ${svids.length} X509-SVID(s), valid until ${expiry}`);
    },
  });
  console.log(`spiffe-sdk dev-agent: Workload API for trust domain ${agent.trustDomain.name}`);
  for (const id of agent.ids) console.log(`  issuing ${id.toString()}`);
  console.log(`export SPIFFE_ENDPOINT_SOCKET=${agent.address}`);
  started = true;

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await agent.close();
  console.log('spiffe-sdk dev-agent: stopped, socket removed');
  return 0;
}
