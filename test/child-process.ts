// Runs a Node program in a child process on the Node binary running the tests. Used by the tests
// that prove a process can exit by itself: a child that leaks a socket or a timer never exits, so
// the helper kills it after `timeoutMs` and fails instead of hanging the suite.
import { spawn } from 'node:child_process';

export interface ChildOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runNode(
  args: readonly string[],
  options: { readonly env: NodeJS.ProcessEnv; readonly timeoutMs: number },
): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `the child did not exit by itself within ${options.timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`,
        ),
      );
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(guard);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}
