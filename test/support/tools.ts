import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export { freePort } from '../../scripts/lib/free-port.ts';

/**
 * Whether a real client or server from Debian's packages is installed.
 * Under CI a missing one is an error, never a silent skip:
 * scripts/install-test-tools.sh (run by .ci/run) installs them all.
 */
export function toolAvailable(command: string): boolean {
  const found = (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir && existsSync(path.join(dir, command)));
  if (!found && process.env.CI)
    throw new Error(`${command} is not installed; CI must run scripts/install-test-tools.sh`);
  return found;
}

/** Starts a server process and resolves once `ready` answers; stop() kills it. */
export async function startServer(
  command: string,
  args: string[],
  ready: () => Promise<boolean>,
): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 20_000;
  while (!(await ready().catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
