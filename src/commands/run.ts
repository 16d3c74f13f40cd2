import type pg from 'pg';
import type { BuildContext, RunDeps } from '../building/types.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import { type Db, newPool } from '../db/connect.ts';
import { checkedDefinition } from '../definition/checked-definition.ts';
import { type Mailer, smtpMailer } from '../email/mailer.ts';
import { openFileSources } from '../files/sources.ts';
import type { Logger } from '../log.ts';
import { registerSecret } from '../redact.ts';
import { postgresPassword } from '../setting-reader.ts';
import { ReplicaReads } from '../snapshot/replica-reads.ts';
import { EXPORTER_VERSION } from '../version.ts';
import { withRuntime } from './common.ts';

/**
 * What `fulfill`, `nightly` and `work` run with, set up in one place: the
 * database and the storage, opened and checked (the schema migrated and its
 * trail's guards holding), the run's log and clock, and the mailer where
 * SMTP_URL is set. Closed in reverse order, whatever happens.
 */
export interface Run {
  deps: RunDeps;
  schemaVersion: string;
  /** Sends the "ready" email (SMTP_URL); none for a dry run. */
  mailer?: Mailer;
}

/** Per request in flight: its snapshot, a second reader of it for big entities, and one for its claim renewals; plus one for claims. */
export function buildConnections(config: Config): number {
  return config.export.concurrency * 3 + 1;
}

export async function openRun<T>(
  config: Config,
  log: Logger,
  options: { connections: number; mail: boolean },
  body: (run: Run) => Promise<T>,
): Promise<T> {
  return withRuntime(config, log, options.connections, async (runtime, schemaVersion) => {
    const mailer = options.mail && config.mail ? smtpMailer(config.mail.smtpUrl, config.mail.from) : undefined;
    const replica = openReplica(config, runtime.pool, log);
    try {
      const deps = { ...runtime, log, clock: systemClock, ...(replica ? { replica: replica.reads } : {}) };
      return await body({ deps, schemaVersion, mailer });
    } finally {
      mailer?.close();
      await replica?.close();
    }
  });
}

/**
 * The replica's pool (EXPORT_READ_DATABASE_URL): a snapshot and its second
 * reader per build. Not checked at start: a replica that cannot be reached
 * leaves each build to the primary (ReplicaReads), it never stops the run.
 */
function openReplica(config: Config, primary: pg.Pool, log: Logger) {
  if (!config.replica) return undefined;
  registerSecret(postgresPassword(config.replica.url));
  const pool = newPool({
    url: config.replica.url,
    maxConnections: config.export.concurrency * 2,
    connectTimeoutMs: 5_000,
  });
  log.info(
    { replicaMaxLagSeconds: config.replica.maxLagSeconds },
    "builds read people's data from the replica (EXPORT_READ_DATABASE_URL) in snapshots that show their claim",
  );
  return {
    reads: new ReplicaReads(pool, primary, config.replica.maxLagSeconds),
    close: () => pool.end().catch(() => {}),
  };
}

/**
 * What a run builds with: the definition checked against the live database
 * (one that no longer matches builds nothing: DriftError; what it allows and
 * should not is logged), its file sources opened (with their EXPORT_SOURCE_*
 * settings from `env`), the export settings and the versions. `close()` lets
 * the sources go. Also what the tests build with.
 */
export async function openBuildContext(
  db: Db,
  config: Config,
  log: Logger,
  schemaVersion: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BuildContext & { close(): void }> {
  const { definition, entities, user, warnings, erasure, erasureProblems } = await checkedDefinition(
    db,
    config.definitionFile,
  );
  for (const warning of warnings)
    log.warn({ warning }, 'a warning about the definition (exporter check says the same)');
  if (config.mail && user.emailColumn === undefined)
    log.warn(
      { userTable: user.ref },
      'SMTP_URL is set but the definition names no user_email column: no "ready" email is sent',
    );
  const files = openFileSources(definition.fileSources, config.storage, env);
  return {
    config: config.export,
    entities,
    user,
    files,
    exporterVersion: EXPORTER_VERSION,
    schemaVersion,
    ...(erasure ? { erasure } : {}),
    erasureProblems,
    close: () => files.destroy(),
  };
}
