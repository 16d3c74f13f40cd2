import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { createSampleSchema, SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import type { BuildContext, RunDeps } from '../../src/building/types.ts';
import { migrateAndLink } from '../../src/commands/migrate.ts';
import { openBuildContext } from '../../src/commands/run.ts';
import { type Config, parseConfig } from '../../src/config.ts';
import { connect, type DbHandle } from '../../src/db/connect.ts';
import { currentSchemaVersion } from '../../src/db/migrate.ts';
import type { FileSources } from '../../src/files/sources.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import type { ExportEntity, UserTable } from '../../src/model/entities.ts';
import { runFulfill } from '../../src/passes/fulfill.ts';
import type { RawSettings } from '../../src/settings.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { readZip } from './zip.ts';

export const BIN = new URL('../../bin/exporter', import.meta.url).pathname;

/**
 * One test file's world: its own database (migrated) and its own bucket on
 * the shared servers, so files never see each other's rows or objects.
 */
export interface TestEnv {
  databaseUrl: string;
  bucket: string;
  s3: ReturnType<typeof inject<'s3'>>;
  /** Environment for the CLI as a child process. */
  cliEnv: Record<string, string>;
  config(overrides?: RawSettings): Config;
  handle: DbHandle;
  admin: pg.Pool;
  s3Client: S3Client;
  schemaVersion: string;
  /** What the shipped definition exports, resolved against this database. */
  entities: readonly ExportEntity[];
  user: UserTable;
  /** The bucket the sample definition's `uploads` source reads users' files from (EXPORT_SOURCE_UPLOADS_BUCKET). */
  uploadsBucket: string;
  /** The shipped definition's file sources, opened against this world's buckets. */
  files: FileSources;
  /** What fulfill builds with (openBuildContext, as `fulfill` and `work` wire it). */
  context: BuildContext;
  close(): Promise<void>;
}

export async function createTestEnv(
  options: {
    storage?: 's3' | 's3rver' /** A server of the test's own (the replica test's primary). */;
    adminUrl?: string;
  } = {},
): Promise<TestEnv> {
  const adminUrl = options.adminUrl ?? inject('databaseUrl');
  const s3 = inject(options.storage ?? 's3');
  const name = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const root = new pg.Client({ connectionString: adminUrl });
  await root.connect();
  await root.query(`create database ${name}`);
  await root.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();

  const bucket = `b-${randomUUID().slice(0, 18)}`;
  const s3Client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
  const uploadsBucket = `u-${randomUUID().slice(0, 18)}`;
  await s3Client.send(new CreateBucketCommand({ Bucket: uploadsBucket }));

  const cliEnv: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    EXPORT_SOURCE_UPLOADS_BUCKET: uploadsBucket,
    EXPORT_DEFINITION: SAMPLE_FILES_DEFINITION,
  };
  const config = (overrides: RawSettings = {}) => {
    const base = parseConfig({
      databaseUrl,
      bucket,
      s3Endpoint: s3.endpoint,
      s3ForcePathStyle: 'true',
      region: 'us-east-1',
      logLevel: 'silent',
      definition: SAMPLE_FILES_DEFINITION,
      ...overrides,
    });
    return {
      ...base,
      storage: { ...base.storage, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
    };
  };
  const handle = connect({ url: databaseUrl, maxConnections: 10 });
  const admin = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  admin.on('error', () => {});
  // The application's tables first, as in a real deployment; then the exporter's own, linked to its users.
  await createSampleSchema(admin);
  await migrateAndLink(handle.db, SAMPLE_FILES_DEFINITION);
  const schemaVersion = (await currentSchemaVersion(handle.db))!;
  // The wiring fulfill and work use: the shipped definition, checked, and its sources on this world's buckets.
  const context = await openBuildContext(handle.db, config(), createLogger({ level: 'silent' }), schemaVersion, cliEnv);
  const { entities, user, files } = context;
  return {
    databaseUrl,
    bucket,
    s3,
    cliEnv,
    config,
    handle,
    admin,
    s3Client,
    schemaVersion,
    entities,
    user,
    uploadsBucket,
    files,
    context,
    async close() {
      context.close();
      await handle.close();
      await admin.end();
      s3Client.destroy();
    },
  };
}

/** A logger whose lines are kept, to assert on what was (and was not) logged. */
export function captureLogger(level = 'debug'): { log: Logger; lines: () => string[]; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ level, destination });
  const lines = () => chunks.join('').split('\n').filter(Boolean);
  return { log, lines, text: () => chunks.join('') };
}

export function passDeps(env: TestEnv, log: Logger, config = env.config()): RunDeps & { config: Config } {
  return {
    db: env.handle.db,
    pool: env.handle.pool,
    storage: new S3Storage(config.storage),
    log,
    clock: { now: () => new Date() },
    config,
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr lines that are JSON log records. */
  logs: Record<string, unknown>[];
}

/** Runs the real CLI as a child process to its end; `nodeArgs`: flags for node itself, before the entry (those NODE_OPTIONS may not carry). */
export function runCli(args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<CliResult> {
  return spawnCli(args, env, nodeArgs).result;
}

/** Starts the real CLI as a child process; the test may signal it, or read its log so far, while it runs. */
export function spawnCli(
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
): { child: ChildProcess; result: Promise<CliResult>; stderr: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // Node's own trace of an uncaught exception or unhandled rejection ends
      // with its version line. The CLI turns every error into an exit code
      // (src/cli.ts), so this is a crash whatever the test expected of the
      // exit code: a worker would have lost every build in it.
      if (/^Node\.js v\d+\.\d+\.\d+$/m.test(stderr))
        reject(new Error(`the CLI crashed (exporter ${args.join(' ')}):\n${stderr.slice(-2000)}`));
      else resolve({ code, signal, stdout, stderr, logs: parseLogs(stderr) });
    });
  });
  return { child, result, stderr: () => stderr };
}

/** Polls until `check` returns a truthy value (never a fixed sleep). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function parseLogs(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function getObject(env: TestEnv, key: string): Promise<Buffer> {
  const res = await env.s3Client.send(new GetObjectCommand({ Bucket: env.bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

export async function headObject(env: TestEnv, key: string) {
  return env.s3Client.send(new HeadObjectCommand({ Bucket: env.bucket, Key: key }));
}

export async function listKeys(env: TestEnv): Promise<string[]> {
  const res = await env.s3Client.send(new ListObjectsV2Command({ Bucket: env.bucket }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

/**
 * A ready request's archive, read back: its row, its bytes, its entries, the
 * manifest, README.txt, every entry's text together (to look for what must
 * not be there) and each entity's JSON records. `db`: where the request is,
 * when not the test world's own database.
 */
export async function archiveOf(env: TestEnv, requestId: string, db: pg.Pool = env.admin) {
  const row = (await db.query('select * from data_export_requests where id = $1', [requestId])).rows[0];
  expect(row, requestId).toMatchObject({ status: 'ready' });
  const zip = await getObject(env, row.object_key);
  const files = await readZip(zip);
  return {
    row,
    zip,
    files,
    manifest: JSON.parse(files.get('manifest.json')!.toString()),
    readme: files.get('README.txt')!.toString(),
    text: [...files.entries()].map(([name, bytes]) => `${name}\n${bytes.toString()}`).join('\n'),
    json: (entity: string) => JSON.parse(files.get(`json/${entity}.json`)!.toString()) as Record<string, unknown>[],
  };
}

export async function requestRow(env: TestEnv, id: string) {
  const { rows } = await env.admin.query('select * from data_export_requests where id = $1', [id]);
  return rows[0] as Record<string, any> | undefined;
}

/** A config a test may change: Config, every field writable. */
export type ConfigDraft = {
  -readonly [K in keyof Config]: Config[K] extends object
    ? { -readonly [J in keyof Config[K]]: Config[K][J] }
    : Config[K];
};

/** Runs the fulfill pass in this process, as the CLI would, and returns its summary and captured log. */
export async function fulfillInProcess(
  env: TestEnv,
  options: {
    requestIds?: string[];
    limit?: number;
    concurrency?: number;
    dryRun?: boolean;
    config?: Config;
    /** Settings over the test world's (with config: ignored). */
    settings?: RawSettings;
    /** Changes the parsed config (a copy) before the run: what no setting can say. */
    tweak?: (config: ConfigDraft) => void;
    entities?: readonly ExportEntity[];
    files?: FileSources;
  } = {},
) {
  const logger = captureLogger();
  const config = structuredClone(options.config ?? env.config(options.settings)) as ConfigDraft;
  options.tweak?.(config);
  const deps = passDeps(env, logger.log, config);
  try {
    const context = {
      ...env.context,
      config: deps.config.export,
      entities: options.entities ?? env.entities,
      files: options.files ?? env.files,
    };
    const summary = await runFulfill(deps, context, {
      limit: options.limit ?? 1000,
      concurrency: options.concurrency ?? 2,
      requestIds: options.requestIds,
      dryRun: options.dryRun ?? false,
      signal: new AbortController().signal,
    });
    return { summary, logger };
  } finally {
    deps.storage.destroy();
  }
}

/**
 * The top-level keys that occur more than once in a JSON log line.
 * JSON.parse keeps one silently (and some log stores reject the line), so this
 * reads the raw text: a key is a string at depth 1 followed by a colon.
 */
export function duplicateKeys(line: string): string[] {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      const text = line.slice(i, end + 1);
      if (depth === 1 && line[end + 1] === ':') {
        const key = JSON.parse(text) as string;
        if (seen.has(key)) duplicates.push(key);
        seen.add(key);
      }
      i = end;
    }
  }
  return duplicates;
}
