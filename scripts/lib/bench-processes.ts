import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A child process's run: wall seconds, its output, and the JSON log lines of its stderr. */
export interface ChildRun {
  seconds: number;
  /** Peak RSS as the operating system saw the process (/usr/bin/time's %M), where /usr/bin/time is installed. */
  osPeakRssMb?: number;
  stdout: string;
  stderr: string;
  logs: Record<string, unknown>[];
}

export interface ExporterProcesses {
  /** The exporter CLI with these arguments, to its end. */
  exporter(args: string[]): Promise<ChildRun>;
  /** Any script under Node with the exporter's environment, to its end. */
  child(args: string[]): Promise<ChildRun>;
  startWork(): { stderr(): string; stop(): Promise<void> };
}

/** The exporter (`bin`, the compiled build) and other scripts as child processes, all with `env`. */
export function exporterProcesses(bin: string, env: NodeJS.ProcessEnv): ExporterProcesses {
  const child = (args: string[]) => runChild(args, env);
  return {
    exporter: (args) => child([bin, ...args]),
    child,
    startWork: () => startWork(bin, env),
  };
}

/** `exporter work` as a child process, with slow polls: only notifications (and the start's poll) wake it. */
function startWork(bin: string, env: NodeJS.ProcessEnv) {
  const proc = spawn(process.execPath, [bin, 'work'], {
    env: { ...env, EXPORT_POLL_INTERVAL: '10m' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-100_000)));
  const closed = once(proc, 'close');
  return {
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      const [code] = (await closed) as [number];
      if (code !== 143) throw new Error(`exporter work exited ${code}:\n${stderr.slice(-2000)}`);
    },
  };
}

/** GNU time, which reports the child's peak RSS as the kernel kept it (across the exporter's one execve, src/v8-flags.ts). */
const TIME = '/usr/bin/time';

async function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<ChildRun> {
  const started = performance.now();
  const timed = existsSync(TIME) ? path.join(mkdtempSync(path.join(os.tmpdir(), 'exporter-time-')), 'rss') : undefined;
  const proc = timed
    ? spawn(TIME, ['-f', '%M', '-o', timed, process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(proc, 'close')) as [number];
  const seconds = (performance.now() - started) / 1000;
  const logs = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`);
  const osPeakRssMb = timed ? Math.round(Number(readFileSync(timed, 'utf8').trim()) / 1024) : undefined;
  if (timed) rmSync(path.dirname(timed), { recursive: true, force: true });
  return { seconds, stdout, stderr, logs, ...(osPeakRssMb === undefined ? {} : { osPeakRssMb }) };
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
