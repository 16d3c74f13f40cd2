import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { median } from './bench-report.ts';
import { emptyRequests, readyCount } from './bench-requests.ts';

/** What one fleet of `exporter work` processes did with one backlog of light requests. */
export interface FleetFigures {
  workers: number;
  requests: number;
  seconds: number;
  /** ms of each claim statement (the ready line's ms.claim): p50, p99. */
  claimP50: number;
  claimP99: number;
  /** CPU of the exporter processes, and of the whole machine (PostgreSQL and the S3 API included), per request. */
  exporterCpuMs: number;
  machineCpuMs: number;
  /** The machine's cores busy on average over the run. */
  busyCores: number;
  /** The largest peak RSS among the workers (VmHWM, as the OS sees it). */
  peakRssMb: number;
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/** A process's CPU ticks (utime + stime) and peak RSS in MB, read while it runs. */
function processUsage(pid: number): { ticks: number; peakMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(after[11]) + Number(after[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { ticks, peakMb: Math.round(Number(hwm) / 1024) };
}

/** `exporter work` as a child process, every stderr line kept (its ready lines say each claim's time). */
function startWorker(bin: string, env: NodeJS.ProcessEnv) {
  const proc = spawn(process.execPath, [bin, 'work'], {
    env: { ...env, EXPORT_POLL_INTERVAL: '10m', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const chunks: Buffer[] = [];
  proc.stderr.on('data', (d: Buffer) => chunks.push(d));
  const closed = once(proc, 'close');
  return {
    pid: proc.pid!,
    async stop() {
      proc.kill('SIGTERM');
      const [code] = (await closed) as [number];
      const stderr = Buffer.concat(chunks).toString();
      if (code !== 143) throw new Error(`exporter work exited ${code}:\n${stderr.slice(-2000)}`);
      return stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

/** `workers` processes of `exporter work` started together on a backlog of one request per user, until every one is ready. */
export async function fleetRun(
  db: pg.Client,
  users: readonly string[],
  workers: number,
  bin: string,
  env: NodeJS.ProcessEnv,
): Promise<FleetFigures> {
  await emptyRequests(db);
  await db.query(`insert into data_export_requests (user_id) select unnest($1::uuid[])`, [users]);
  const ticksPerSecond = 100; // USER_HZ on Linux
  const machineBefore = machineTicks();
  const started = performance.now();
  const fleet = Array.from({ length: workers }, () => startWorker(bin, env));
  let usage = fleet.map(() => ({ ticks: 0, peakMb: 0 }));
  // Looked at four times a second: the looking costs the database next to nothing, whatever the fleet.
  while ((await readyCount(db)) < users.length) {
    usage = fleet.map((w) => processUsage(w.pid));
    await new Promise((r) => setTimeout(r, 250));
  }
  usage = fleet.map((w) => processUsage(w.pid));
  const seconds = (performance.now() - started) / 1000;
  const machineAfter = machineTicks();
  const logs = (await Promise.all(fleet.map((w) => w.stop()))).flat();
  await onceEach(db, users.length, logs);
  const claims = logs.filter((l) => l.msg === 'request ready').map((l) => (l.ms as { claim: number }).claim);
  const exporterTicks = usage.reduce((sum, u) => sum + u.ticks, 0);
  const busy = machineAfter.busy - machineBefore.busy;
  return {
    workers,
    requests: users.length,
    seconds,
    claimP50: percentile(claims, 0.5),
    claimP99: percentile(claims, 0.99),
    exporterCpuMs: (exporterTicks / ticksPerSecond / users.length) * 1000,
    machineCpuMs: (busy / ticksPerSecond / users.length) * 1000,
    busyCores: busy / ticksPerSecond / seconds,
    peakRssMb: Math.max(...usage.map((u) => u.peakMb)),
  };
}

/** Every request built exactly once: one ready line each across the fleet, one attempt each, one object each. */
async function onceEach(db: pg.Client, requests: number, logs: Record<string, unknown>[]): Promise<void> {
  const ready = logs.filter((l) => l.msg === 'request ready').map((l) => l.requestId as string);
  const { rows } = await db.query<{ once: number; keys: number }>(
    `select count(*) filter (where attempts = 1)::int as once, count(distinct object_key)::int as keys
       from data_export_requests where status = 'ready'`,
  );
  if (
    ready.length !== requests ||
    new Set(ready).size !== requests ||
    rows[0]!.once !== requests ||
    rows[0]!.keys !== requests
  )
    throw new Error(
      `not every request built exactly once: ${ready.length} ready lines (${new Set(ready).size} requests), ${rows[0]!.once} ready at the first attempt, ${rows[0]!.keys} objects, of ${requests}`,
    );
}

function percentile(xs: number[], p: number): number {
  if (p === 0.5) return median(xs);
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}
