import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplicatedPostgres } from '../../scripts/lib/embedded.ts';
import { archiveOf, createTestEnv, requestRow, runCli, type TestEnv, waitFor } from '../support/harness.ts';
import { insertProject, insertRequest, insertUser } from '../support/seed.ts';

/**
 * Reads from a real streaming replica (EXPORT_READ_DATABASE_URL): a primary
 * and a hot standby made from it (scripts/lib/replica-process.ts), the
 * standby's replay paused and resumed, the standby stopped and started.
 */
type Pair = Awaited<ReturnType<typeof startReplicatedPostgres>>;

/** The application's tables that hold the person's rows (the sample's): whatever reads them, a scan or an index, counts. */
const APPLICATION_TABLES = ['projects', 'project_members', 'features', 'pipeline_runs', 'releases'];

describe('reads from a streaming replica', () => {
  let pair: Pair;
  let env: TestEnv;
  let replica: pg.Pool;
  let replicaUrl: string;

  beforeAll(async () => {
    pair = await startReplicatedPostgres();
    env = await createTestEnv({ adminUrl: pair.primaryUrl });
    // The same database on the standby: CREATE DATABASE and the schema came by WAL.
    const url = new URL(pair.replicaUrl);
    url.pathname = new URL(env.databaseUrl).pathname;
    replicaUrl = url.toString();
    replica = new pg.Pool({ connectionString: replicaUrl, max: 2 });
    replica.on('error', () => {});
    await caughtUp();
  }, 180_000);

  afterAll(async () => {
    await replica?.end();
    await env?.close();
    await pair?.stop();
  });

  /** Waits until the standby has replayed everything the primary has written so far. */
  async function caughtUp(): Promise<void> {
    const { rows } = await env.admin.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
    await waitFor(async () => {
      const r = await replica.query<{ ok: boolean }>('select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [
        rows[0]!.lsn,
      ]);
      return r.rows[0]!.ok;
    }, 'the standby to catch up');
  }

  /**
   * Reads of the application's tables on a server (sequential and index
   * scans), as its statistics count them once every session that made them
   * has reported: a backend reports as it exits, an idle one only up to ten
   * seconds later. So the idle sessions of this database (the test's own
   * pools, which reconnect) are ended first, and their exit awaited.
   */
  async function reads(pool: pg.Pool): Promise<number> {
    const client = await pool.connect();
    try {
      const { rows: ended } = await client.query<{ pid: number }>(
        // OFFSET 0: the filter first, whatever order the planner likes (never this session itself).
        `select pid, pg_terminate_backend(pid) from (
           select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
             and backend_type = 'client backend' and state = 'idle' offset 0) idle`,
      );
      await waitFor(async () => {
        const { rows } = await client.query('select 1 from pg_stat_activity where pid = any($1)', [
          ended.map((r) => r.pid),
        ]);
        return rows.length === 0;
      }, 'the ended sessions to exit');
      // Their pools hear of it and drop them (they reconnect when next used).
      await new Promise((r) => setTimeout(r, 300));
      await client.query('select pg_stat_clear_snapshot()');
      const { rows } = await client.query<{ n: string }>(
        'select coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)::text as n from pg_stat_user_tables where relname = any($1)',
        [APPLICATION_TABLES],
      );
      return Number(rows[0]!.n);
    } finally {
      client.release();
    }
  }

  /** A person with a project, on the standby too; then, with its replay paused, a project written just before their request. */
  async function personWithALateRow() {
    const userId = await insertUser(env.admin);
    await insertProject(env.admin, userId, { name: 'replayed long ago' });
    await caughtUp();
    await replica.query('select pg_wal_replay_pause()');
    await insertProject(env.admin, userId, { name: 'written just before the request' });
    const requestId = await insertRequest(env.admin, userId);
    return { userId, requestId };
  }

  function projectNames(archive: Awaited<ReturnType<typeof archiveOf>>): string[] {
    return archive
      .json('projects')
      .map((p) => p.name as string)
      .sort();
  }

  it("waits for the standby to show the build's claim, then reads every row there: the row written just before the request is in the archive, and the primary served none of the reads", {
    timeout: 120_000,
  }, async () => {
    const { requestId } = await personWithALateRow();
    const primaryBefore = await reads(env.admin);
    const replicaBefore = await reads(replica);
    const running = runCli(['fulfill', '--request', requestId], {
      ...env.cliEnv,
      EXPORT_READ_DATABASE_URL: replicaUrl,
      EXPORT_REPLICA_MAX_LAG: '60s',
    });
    // Replay resumes a second after the claim, while the build waits for it (a light build takes a tenth of that).
    await waitFor(async () => (await requestRow(env, requestId))?.status === 'processing', 'the claim');
    await new Promise((r) => setTimeout(r, 1_000));
    await replica.query('select pg_wal_replay_resume()');
    const run = await running;
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs.find((l) => l.msg === 'request ready')).toMatchObject({ readFrom: 'replica' });
    expect(run.logs.filter((l) => 'replicaFallback' in l)).toEqual([]);
    const archive = await archiveOf(env, requestId);
    expect(projectNames(archive)).toEqual(['replayed long ago', 'written just before the request']);
    expect(await reads(replica)).toBeGreaterThan(replicaBefore);
    expect(await reads(env.admin)).toBe(primaryBefore);
  });

  it('a wait for the standby longer than the stall watchdog allows is refused before any work (exit 2), naming both settings', async () => {
    const run = await runCli(['fulfill'], {
      ...env.cliEnv,
      EXPORT_READ_DATABASE_URL: replicaUrl,
      EXPORT_REPLICA_MAX_LAG: '5m',
      EXPORT_STALL_TIMEOUT: '3m',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/EXPORT_REPLICA_MAX_LAG .*must be shorter than EXPORT_STALL_TIMEOUT \(180 s\)/);
  });

  it('the same export without a replica reads the primary (the statistics above would have seen it)', {
    timeout: 60_000,
  }, async () => {
    const userId = await insertUser(env.admin);
    await insertProject(env.admin, userId);
    const requestId = await insertRequest(env.admin, userId);
    const primaryBefore = await reads(env.admin);
    const run = await runCli(['fulfill', '--request', requestId], env.cliEnv);
    expect(run.code, run.stderr).toBe(0);
    expect(run.logs.find((l) => l.msg === 'request ready')).not.toHaveProperty('readFrom');
    expect(await reads(env.admin)).toBeGreaterThan(primaryBefore);
  });

  it('a standby that stays behind past EXPORT_REPLICA_MAX_LAG is left for the primary: the archive still holds the row, the log says why, the run counts it', {
    timeout: 60_000,
  }, async () => {
    const { requestId } = await personWithALateRow();
    try {
      const run = await runCli(['fulfill', '--request', requestId], {
        ...env.cliEnv,
        EXPORT_READ_DATABASE_URL: replicaUrl,
        EXPORT_REPLICA_MAX_LAG: '2s',
      });
      expect(run.code, run.stderr).toBe(0);
      const fallback = run.logs.find((l) => 'replicaFallback' in l);
      expect(fallback).toMatchObject({ level: 'warn', replicaFallback: { reason: 'lagging' } });
      expect((fallback!.replicaFallback as { waitedSeconds: number }).waitedSeconds).toBeGreaterThanOrEqual(2);
      expect(run.logs.find((l) => l.msg === 'request ready')).toMatchObject({ readFrom: 'primary' });
      expect(run.logs.find((l) => l.msg === 'fulfill finished')).toMatchObject({
        replicaFallbacks: { lagging: 1, unreachable: 0, not_a_standby: 0 },
      });
      expect(projectNames(await archiveOf(env, requestId))).toEqual([
        'replayed long ago',
        'written just before the request',
      ]);
    } finally {
      await replica.query('select pg_wal_replay_resume()');
    }
  });

  it('a standby that is down leaves the builds to the primary; restarted, it is read from again; a URL that names a primary is never trusted as a standby', {
    timeout: 180_000,
  }, async () => {
    const userId = await insertUser(env.admin);
    await insertProject(env.admin, userId, { name: 'one' });
    const withReplica = { ...env.cliEnv, EXPORT_READ_DATABASE_URL: replicaUrl, EXPORT_REPLICA_MAX_LAG: '30s' };
    await pair.stopReplica();
    try {
      const down = await insertRequest(env.admin, userId);
      const run = await runCli(['fulfill', '--request', down], withReplica);
      expect(run.code, run.stderr).toBe(0);
      expect(run.logs.find((l) => 'replicaFallback' in l)).toMatchObject({
        replicaFallback: { reason: 'unreachable' },
      });
      expect(projectNames(await archiveOf(env, down))).toEqual(['one']);
    } finally {
      await pair.startReplica();
    }
    await insertProject(env.admin, userId, { name: 'two' });
    const back = await insertRequest(env.admin, userId);
    const again = await runCli(['fulfill', '--request', back], withReplica);
    expect(again.code, again.stderr).toBe(0);
    expect(again.logs.find((l) => l.msg === 'request ready')).toMatchObject({ readFrom: 'replica' });
    expect(projectNames(await archiveOf(env, back))).toEqual(['one', 'two']);

    const primaryNamed = await insertRequest(env.admin, userId);
    const misnamed = await runCli(['fulfill', '--request', primaryNamed], {
      ...withReplica,
      EXPORT_READ_DATABASE_URL: env.databaseUrl,
    });
    expect(misnamed.code, misnamed.stderr).toBe(0);
    expect(misnamed.logs.find((l) => 'replicaFallback' in l)).toMatchObject({
      replicaFallback: { reason: 'not_a_standby' },
    });
  });
});
