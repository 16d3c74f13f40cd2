import os from 'node:os';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { ConfigError } from './errors.ts';
import { isPostgresUrl, SettingReader } from './setting-reader.ts';
import { type RawSettings, SETTINGS, type SettingName } from './settings.ts';

function spoolDirectory(setting: string | undefined): string | null {
  if (setting === 'none') return null;
  return setting === undefined || setting === SETTINGS.spoolDir.default ? os.tmpdir() : setting;
}
export type ServerSideEncryptionMode = 'AES256' | 'aws:kms' | 'none';

export interface StorageConfig {
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string | undefined;
  readonly publicEndpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly region: string;
  readonly sse: ServerSideEncryptionMode;
  readonly sseKmsKeyId: string | undefined;
  /** Multipart part size and parts in flight: memory is about their product (BENCHMARKS.md). */
  readonly partSizeBytes: number;
  readonly queueSize: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Explicit credentials or a provider (tests, the demo); otherwise the AWS default chain. */
  readonly credentials?: S3ClientConfig['credentials'];
}

export interface ExportConfig {
  readonly linkTtlSeconds: number;
  readonly maxAttempts: number;
  readonly concurrency: number;
  readonly claimTtlSeconds: number;
  /** A build with no progress for this long is stopped: a hung connection must never hold the night. */
  readonly stallTimeoutSeconds: number;
  readonly zipLevel: number;
  /** No single file in the archive grows past this; larger entities are split into numbered parts. */
  readonly maxEntryBytes: number;
  /** An entity whose JSON is estimated at this size or more has its CSV read in parallel, on a second connection. */
  readonly parallelFromBytes: number;
  /** A failed request waits this long before its second attempt, twice that before its third, … */
  readonly retryBackoffSeconds: number;
  /** A user's file above this is not included (manifest: too_large). */
  readonly maxFileBytes: number;
  /** A request whose rows and files add up to more than this (before compression) is refused before the first byte. */
  readonly maxArchiveBytes: number;
  /** Where a CSV read ahead waits (null: in memory). */
  readonly spoolDir: string | null;
  /** A request whose rows point at more files than this is refused before the first byte (the archive's directory and manifest grow with them). */
  readonly maxFiles: number;
  /** Events of the audit trail older than this are deleted by expire (default three years). */
  readonly auditRetentionSeconds: number;
  /** index.html and viewer/ in each archive, showing at most `rows` rows per entity; null leaves them out. */
  readonly viewer: { readonly rows: number } | null;
  /** Rows an erasure deletes or changes per transaction. */
  readonly eraseBatch: number;
  /** The key of hmac pseudonyms (a secret, redacted from every log). */
  readonly eraseHmacKey: string | undefined;
}

/** A hot standby the snapshots read from, in snapshots that show the build's claim. */
export interface ReplicaConfig {
  readonly url: string;
  /** How long a build waits for it to catch up before reading from the primary instead. */
  readonly maxLagSeconds: number;
}

/** What only the long-running `exporter work` reads. */
export interface WorkConfig {
  /** Idle polling while LISTEN is healthy; POLL_FALLBACK_SECONDS while it is not, or in poll-only mode. */
  readonly pollIntervalSeconds: number;
  readonly pollOnly: boolean;
  readonly housekeepingIntervalSeconds: number;
  readonly shutdownGraceSeconds: number;
  readonly httpPort: number | undefined;
}

/** How often an idle worker polls when notifications cannot be relied on. */
export const POLL_FALLBACK_SECONDS = 2;

export interface Config {
  readonly databaseUrl: string;
  /** Where the builds read the people's data from, when not the primary (EXPORT_READ_DATABASE_URL). */
  readonly replica: ReplicaConfig | undefined;
  readonly storage: StorageConfig;
  readonly export: ExportConfig;
  readonly logLevel: string;
  readonly pushgatewayUrl: string | undefined;
  /** Set when the email is on: SMTP_URL and MAIL_FROM. */
  readonly mail: { readonly smtpUrl: string; readonly from: string } | undefined;
  readonly requestWindowSeconds: number;
  /** The definition file; undefined means the one shipped for the sample schema. */
  readonly definitionFile: string | undefined;
  readonly work: WorkConfig;
}

/** SigV4 presigned URLs live at most 7 days. */
export const MAX_LINK_TTL_SECONDS = 604_800;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What a command needs: `migrate` needs no bucket, `link` no zip level. */
export interface Needs {
  database?: boolean;
  storage?: boolean;
}

/**
 * Checks every setting and reports every problem at once (ConfigError), or
 * returns the frozen Config. Values of secrets never appear in a message.
 */
export function parseConfig(raw: RawSettings, needs: Needs = { database: true, storage: true }): Config {
  const read = new SettingReader(raw);
  const databaseUrl = read.required('databaseUrl', needs.database);
  if (databaseUrl && !isPostgresUrl(databaseUrl))
    read.problem(
      'databaseUrl',
      'is not a valid postgres:// URL (postgres://user@host/db, or postgres://user@/db?host=/run/postgresql for a socket)',
    );
  const readDatabaseUrl = read.value('readDatabaseUrl');
  if (readDatabaseUrl && !isPostgresUrl(readDatabaseUrl))
    read.problem('readDatabaseUrl', 'is not a valid postgres:// URL');
  const logLevel = read.value('logLevel') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    read.problem('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const config: Config = {
    databaseUrl,
    replica: readDatabaseUrl
      ? { url: readDatabaseUrl, maxLagSeconds: read.duration('replicaMaxLag', 86_400) }
      : undefined,
    storage: storageConfig(read, needs),
    export: exportConfig(read),
    logLevel,
    pushgatewayUrl: read.url('pushgatewayUrl', ['http', 'https']),
    mail: mailSettings(read.url('smtpUrl', ['smtp', 'smtps']), read.value('mailFrom'), read.problem),
    requestWindowSeconds: read.duration('requestWindow', 366 * 86_400),
    definitionFile: read.value('definition'),
    work: workConfig(read),
  };
  // The wait for the replica is a build making no progress: the stall watchdog would end it first, every attempt.
  if (config.replica && config.replica.maxLagSeconds >= config.export.stallTimeoutSeconds)
    read.problem(
      'replicaMaxLag',
      `must be shorter than ${SETTINGS.stallTimeout.env} (${config.export.stallTimeoutSeconds} s)`,
    );
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return deepFreeze(config);
}

function storageConfig(read: SettingReader, needs: Needs): StorageConfig {
  const bucket = read.required('bucket', needs.storage);
  if (bucket && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    read.problem('bucket', `is not a valid bucket name: ${JSON.stringify(bucket)}`);
  const prefix = read.value('prefix') ?? '';
  if (prefix.startsWith('/') || !prefix.endsWith('/'))
    read.problem('prefix', `must end with "/" and not start with one, got ${JSON.stringify(prefix)}`);
  const sse = read.value('sse') as ServerSideEncryptionMode;
  if (!['AES256', 'aws:kms', 'none'].includes(sse))
    read.problem('sse', `must be AES256, aws:kms or none, got ${JSON.stringify(sse)}`);
  return {
    bucket,
    prefix,
    endpoint: read.url('s3Endpoint', ['http', 'https']),
    publicEndpoint: read.url('s3PublicEndpoint', ['http', 'https']),
    forcePathStyle: read.boolean('s3ForcePathStyle'),
    region: read.value('region') ?? 'us-east-1',
    sse,
    sseKmsKeyId: read.value('sseKmsKeyId'),
    partSizeBytes: 8 * 1024 * 1024,
    // Two parts in flight: with the CSV appended from its spool at disk speed,
    // four filled up at once and the 1M-row user peaked at 167-172 MB (145-159
    // with two, no slower here; a 2 GiB file 165 -> 150 MB, 32 -> 34 s).
    queueSize: 2,
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 60_000,
  };
}

function exportConfig(read: SettingReader): ExportConfig {
  return {
    linkTtlSeconds: read.duration('linkTtl', MAX_LINK_TTL_SECONDS),
    maxAttempts: read.integer('maxAttempts', 1, 100),
    concurrency: read.integer('concurrency', 1, 64),
    claimTtlSeconds: read.duration('claimTtl', 86_400),
    stallTimeoutSeconds: read.duration('stallTimeout', 86_400),
    zipLevel: read.integer('zipLevel', 0, 9),
    maxEntryBytes: 1024 ** 3,
    // Below this a second connection is not worth it (a light user's entities never reach it).
    parallelFromBytes: 8 * 1024 * 1024,
    retryBackoffSeconds: read.duration('retryBackoff', 86_400),
    maxFileBytes: read.bytes('maxFileBytes'),
    maxArchiveBytes: read.bytes('maxArchiveBytes'),
    spoolDir: spoolDirectory(read.value('spoolDir')),
    maxFiles: read.integer('maxFiles', 1, 100_000_000),
    auditRetentionSeconds: read.duration('auditRetention', 100 * 365 * 86_400),
    viewer: read.boolean('viewer') ? { rows: read.integer('viewerRows', 1, 1_000_000) } : null,
    eraseBatch: read.integer('eraseBatch', 1, 100_000),
    eraseHmacKey: hmacKey(read),
  };
}

function workConfig(read: SettingReader): WorkConfig {
  return {
    pollIntervalSeconds: read.duration('pollInterval', 86_400),
    pollOnly: read.boolean('pollOnly'),
    housekeepingIntervalSeconds: read.duration('housekeepingInterval', 7 * 86_400),
    // Kubernetes sends SIGKILL 30 s after SIGTERM by default: the grace must end before that.
    shutdownGraceSeconds: read.duration('shutdownGrace', 3_600),
    httpPort: read.value('httpPort') === undefined ? undefined : read.integer('httpPort', 1, 65_535),
  };
}

function mailSettings(
  smtpUrl: string | undefined,
  from: string | undefined,
  problem: (name: SettingName, text: string) => void,
) {
  if (!smtpUrl) return undefined;
  if (!from) {
    problem('mailFrom', 'is required when SMTP_URL is set');
    return undefined;
  }
  if (!/^([^<>]*<)?[^\s@<>]+@[^\s@<>]+>?$/.test(from))
    problem('mailFrom', `is not an email address: ${JSON.stringify(from)}`);
  return { smtpUrl, from };
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** EXPORT_ERASE_HMAC_KEY: long enough that a pseudonym cannot be guessed back by trying keys. */
function hmacKey(read: SettingReader): string | undefined {
  const key = read.value('eraseHmacKey');
  if (key !== undefined && [...key].length < 32) read.problem('eraseHmacKey', 'must be at least 32 characters');
  return key;
}
