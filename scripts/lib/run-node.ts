import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** Runs a Node entry (the exporter's build) to its end: wall seconds, stderr, and its JSON log lines; throws on a non-zero exit. */
export async function runNode(entry: string, args: string[], env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const proc = spawn(process.execPath, [entry, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(proc, 'close')) as [number];
  const logs = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (code !== 0) throw new Error(`${entry} ${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`);
  return { seconds: (performance.now() - started) / 1000, stderr, logs };
}
