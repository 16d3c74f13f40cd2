import os from 'node:os';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { parseBytes } from './byte-sizes.ts';
import { formatDuration, parseDurationSeconds } from './durations.ts';
import { ConfigError } from './errors.ts';

/**
 * Every setting, with its flag and environment variable: the CLI declares its
 * options from this table and error messages name settings from it, so the two
 * can never disagree. Parsed once into a frozen Config.
 */
export const SETTINGS = {
  databaseUrl: { flag: '--database-url <url>', env: 'DATABASE_URL', help: 'PostgreSQL connection URL' },
  bucket: { flag: '--bucket <name>', env: 'S3_BUCKET', help: 'bucket the archives go to' },
  prefix: { flag: '--prefix <prefix>', env: 'S3_PREFIX', help: 'key prefix of every archive', default: 'exports/' },
  s3Endpoint: { flag: '--s3-endpoint <url>', env: 'S3_ENDPOINT', help: 'S3-compatible endpoint (MinIO, R2, …); AWS when unset' },
  s3ForcePathStyle: { flag: '--s3-force-path-style <bool>', env: 'S3_FORCE_PATH_STYLE', help: 'path-style addressing (MinIO)', default: 'false' },
  s3PublicEndpoint: { flag: '--s3-public-endpoint <url>', env: 'S3_PUBLIC_ENDPOINT', help: 'endpoint the download links are signed for, when users reach storage at another address' },
  region: { flag: '--region <region>', env: 'AWS_REGION', help: 'AWS region', default: 'us-east-1' },
  sse: { flag: '--sse <mode>', env: 'S3_SSE', help: 'server-side encryption: AES256, aws:kms, or none (only where the bucket encrypts by itself)', default: 'AES256' },
  sseKmsKeyId: { flag: '--sse-kms-key-id <id>', env: 'S3_SSE_KMS_KEY_ID', help: 'KMS key id for aws:kms' },
  linkTtl: { flag: '--link-ttl <duration>', env: 'EXPORT_LINK_TTL', help: 'download link lifetime: seconds or 7d, 36h, 15m; at most 7d', default: '7d' },
  maxAttempts: { flag: '--max-attempts <n>', env: 'EXPORT_MAX_ATTEMPTS', help: 'attempts before a request ends failed', default: '3' },
  concurrency: { flag: '--concurrency <n>', env: 'EXPORT_CONCURRENCY', help: 'requests built in parallel by one process', default: '2' },
  claimTtl: { flag: '--claim-ttl <duration>', env: 'EXPORT_CLAIM_TTL', help: 'how long a claim lives without renewal before another worker may take the request over', default: '5m' },
  stallTimeout: { flag: '--stall-timeout <duration>', env: 'EXPORT_STALL_TIMEOUT', help: 'a build that writes no row and uploads no byte for this long is abandoned (and retried next run)', default: '3m' },
  zipLevel: { flag: '--zip-level <0-9>', env: 'EXPORT_ZIP_LEVEL', help: 'deflate level of the archive', default: '1' },
  logLevel: { flag: '--log-level <level>', env: 'LOG_LEVEL', help: 'fatal, error, warn, info, debug or trace', default: 'info' },
  pushgatewayUrl: { flag: '--pushgateway-url <url>', env: 'PUSHGATEWAY_URL', help: 'Prometheus Pushgateway that each run pushes its figures to' },
  smtpUrl: { flag: '--smtp-url <url>', env: 'SMTP_URL', help: 'SMTP server for the "your export is ready" email (smtp:// or smtps://); no email without it' },
  mailFrom: { flag: '--mail-from <address>', env: 'MAIL_FROM', help: 'sender of the email, e.g. "Example <no-reply@example.com>"' },
  requestWindow: { flag: '--request-window <duration>', env: 'EXPORT_REQUEST_WINDOW', help: 'a user may have one request that has not failed per this window', default: '24h' },
  retryBackoff: { flag: '--retry-backoff <duration>', env: 'EXPORT_RETRY_BACKOFF', help: 'a request that failed for a passing reason is retried after this, doubled per attempt (at most 6h)', default: '5m' },
  pollInterval: { flag: '--poll-interval <duration>', env: 'EXPORT_POLL_INTERVAL', help: 'work: how often an idle worker looks for requests while LISTEN is healthy (every 2 s while it is not)', default: '1m' },
  pollOnly: { flag: '--poll-only <bool>', env: 'EXPORT_POLL_ONLY', help: 'work: no LISTEN (PgBouncer in transaction mode); poll every 2 s', default: 'false' },
  housekeepingInterval: { flag: '--housekeeping-interval <duration>', env: 'EXPORT_HOUSEKEEPING_INTERVAL', help: 'work: how often expire, the sweep, owed emails and abandoned requests are handled (once across all workers)', default: '1h' },
  shutdownGrace: { flag: '--shutdown-grace <duration>', env: 'EXPORT_SHUTDOWN_GRACE', help: 'work: on SIGTERM, how long builds in flight may take to finish before they are handed back', default: '25s' },
  definition: { flag: '--definition <file>', env: 'EXPORT_DEFINITION', help: 'what leaves the database: a definition file (YAML); the one for the sample schema when unset' },
  httpPort: { flag: '--http-port <port>', env: 'EXPORT_HTTP_PORT', help: 'work: serve /livez, /readyz and /metrics on this port (off when unset)' },
  maxFileBytes: { flag: '--max-file-bytes <size>', env: 'EXPORT_MAX_FILE_BYTES', help: "a user's file larger than this is left out of the archive (listed as too_large): bytes or 500MB, 5GiB", default: '5GiB' },
  spoolDir: { flag: '--spool-dir <dir>', env: 'EXPORT_SPOOL_DIR', help: "where a big entity's CSV, read at the same time as its JSON, waits for its turn (deflated, in a file deleted as soon as it is made); none: in memory, 4 MiB, then it waits", default: 'the system temporary directory' },
  maxArchiveBytes: { flag: '--max-archive-bytes <size>', env: 'EXPORT_MAX_ARCHIVE_BYTES', help: 'a request whose data and files add up to more than this is refused up front, with the reason on the request (and stopped at it while written)', default: '100GiB' },
  maxFiles: { flag: '--max-files <n>', env: 'EXPORT_MAX_FILES', help: "a request whose rows point at more of the user's files than this is refused up front, with the reason on the request (memory grows with the files of one archive: README)", default: '100000' },
} as const;

export type SettingName = keyof typeof SETTINGS;

function spoolDirectory(setting: string | undefined): string | null {
  if (setting === 'none') return null;
  return setting === undefined || setting === SETTINGS.spoolDir.default ? os.tmpdir() : setting;
}
export type RawSettings = Partial<Record<SettingName, string>>;

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

export function settingLabel(name: SettingName): string {
  const s = SETTINGS[name];
  return `${s.env} (${s.flag.split(' ')[0]})`;
}

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
  const problems: string[] = [];
  const value = (name: SettingName): string | undefined => {
    const v = raw[name]?.trim();
    if (v !== undefined && v !== '') return v;
    return 'default' in SETTINGS[name] ? (SETTINGS[name] as { default: string }).default : undefined;
  };
  const problem = (name: SettingName, text: string) => problems.push(`${settingLabel(name)} ${text}`);

  const required = (name: SettingName, needed: boolean | undefined): string => {
    const v = value(name);
    if (needed && v === undefined) problem(name, 'is required');
    return v ?? '';
  };
  const url = (name: SettingName, protocols: string[]): string | undefined => {
    const v = value(name);
    if (v === undefined) return undefined;
    if (!isUrl(v, protocols)) problem(name, `is not a valid ${protocols.join(' or ')} URL`);
    return v;
  };
  const integer = (name: SettingName, min: number, max: number): number => {
    const v = value(name) ?? '';
    const n = /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!(n >= min && n <= max)) problem(name, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  const duration = (name: SettingName, maxSeconds: number): number => {
    const v = value(name) ?? '';
    const seconds = parseDurationSeconds(v);
    if (seconds === undefined) problem(name, `must be a positive duration such as 604800, 7d, 36h or 15m, got ${JSON.stringify(v)}`);
    else if (seconds > maxSeconds) problem(name, `must be at most ${formatDuration(maxSeconds)} (${maxSeconds} s), got ${JSON.stringify(v)}`);
    return seconds ?? 0;
  };
  const bytes = (name: SettingName): number => {
    const v = value(name) ?? '';
    const n = parseBytes(v);
    if (n === undefined) problem(name, `must be a size such as 1073741824, 500MB or 5GiB, got ${JSON.stringify(v)}`);
    return n ?? 0;
  };
  const boolean = (name: SettingName): boolean => {
    const v = (value(name) ?? '').toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    problem(name, `must be true or false, got ${JSON.stringify(v)}`);
    return false;
  };

  const databaseUrl = required('databaseUrl', needs.database);
  if (databaseUrl && !isUrl(databaseUrl, ['postgres', 'postgresql'])) {
    problem('databaseUrl', 'is not a valid postgres:// URL');
  }
  const bucket = required('bucket', needs.storage);
  if (bucket && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) problem('bucket', `is not a valid bucket name: ${JSON.stringify(bucket)}`);
  const prefix = value('prefix') ?? '';
  if (prefix.startsWith('/') || !prefix.endsWith('/')) problem('prefix', `must end with "/" and not start with one, got ${JSON.stringify(prefix)}`);
  const sse = value('sse') as ServerSideEncryptionMode;
  if (!['AES256', 'aws:kms', 'none'].includes(sse)) problem('sse', `must be AES256, aws:kms or none, got ${JSON.stringify(sse)}`);
  const logLevel = value('logLevel') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problem('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);

  const config: Config = {
    databaseUrl,
    storage: {
      bucket,
      prefix,
      endpoint: url('s3Endpoint', ['http', 'https']),
      publicEndpoint: url('s3PublicEndpoint', ['http', 'https']),
      forcePathStyle: boolean('s3ForcePathStyle'),
      region: value('region') ?? 'us-east-1',
      sse,
      sseKmsKeyId: value('sseKmsKeyId'),
      partSizeBytes: 8 * 1024 * 1024,
      // Two parts in flight: with the CSV appended from its spool at disk speed,
      // four filled up at once and the 1M-row user peaked at 167-172 MB (145-159
      // with two, no slower here; a 2 GiB file 165 -> 150 MB, 32 -> 34 s).
      queueSize: 2,
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 60_000,
    },
    export: {
      linkTtlSeconds: duration('linkTtl', MAX_LINK_TTL_SECONDS),
      maxAttempts: integer('maxAttempts', 1, 100),
      concurrency: integer('concurrency', 1, 64),
      claimTtlSeconds: duration('claimTtl', 86_400),
      stallTimeoutSeconds: duration('stallTimeout', 86_400),
      zipLevel: integer('zipLevel', 0, 9),
      maxEntryBytes: 1024 ** 3,
      // Below this a second connection is not worth it (a light user's entities never reach it).
      parallelFromBytes: 8 * 1024 * 1024,
      retryBackoffSeconds: duration('retryBackoff', 86_400),
      maxFileBytes: bytes('maxFileBytes'),
      maxArchiveBytes: bytes('maxArchiveBytes'),
      spoolDir: spoolDirectory(value('spoolDir')),
      maxFiles: integer('maxFiles', 1, 100_000_000),
    },
    logLevel,
    pushgatewayUrl: url('pushgatewayUrl', ['http', 'https']),
    mail: mailSettings(url('smtpUrl', ['smtp', 'smtps']), value('mailFrom'), problem),
    requestWindowSeconds: duration('requestWindow', 366 * 86_400),
    definitionFile: value('definition'),
    work: {
      pollIntervalSeconds: duration('pollInterval', 86_400),
      pollOnly: boolean('pollOnly'),
      housekeepingIntervalSeconds: duration('housekeepingInterval', 7 * 86_400),
      // Kubernetes sends SIGKILL 30 s after SIGTERM by default: the grace must end before that.
      shutdownGraceSeconds: duration('shutdownGrace', 3_600),
      httpPort: value('httpPort') === undefined ? undefined : integer('httpPort', 1, 65_535),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function mailSettings(smtpUrl: string | undefined, from: string | undefined, problem: (name: SettingName, text: string) => void) {
  if (!smtpUrl) return undefined;
  if (!from) {
    problem('mailFrom', 'is required when SMTP_URL is set');
    return undefined;
  }
  if (!/^([^<>]*<)?[^\s@<>]+@[^\s@<>]+>?$/.test(from)) problem('mailFrom', `is not an email address: ${JSON.stringify(from)}`);
  return { smtpUrl, from };
}

function isUrl(text: string, protocols: string[]): boolean {
  try {
    const u = new URL(text);
    return protocols.includes(u.protocol.replace(/:$/, '')) && u.hostname !== '';
  } catch {
    return false;
  }
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
