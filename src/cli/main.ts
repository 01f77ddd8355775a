#!/usr/bin/env node
// The `spiffe-sdk` command: developer tools that ship with the package.
import { SpiffeError } from '../errors.js';
import { demoCommand } from './demo-command.js';
import { devAgentCommand } from './dev-agent-command.js';

const HELP = `Usage: spiffe-sdk <command> [options]

Commands:
  demo        run mTLS, rotation and JWT-SVID validation end to end (see: spiffe-sdk demo --help)
  dev-agent   serve a local Workload API from a test CA (see: spiffe-sdk dev-agent --help)`;

const commands: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  demo: demoCommand,
  'dev-agent': devAgentCommand,
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    console.log(HELP);
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    console.error(`spiffe-sdk: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Usage errors and SDK errors are expected: print the message, not a stack.
    const known = err instanceof SpiffeError || (err instanceof TypeError && 'code' in err);
    console.error(
      `spiffe-sdk: ${known ? (err as Error).message : String((err as Error).stack ?? err)}`,
    );
    process.exitCode = 2;
  },
);
