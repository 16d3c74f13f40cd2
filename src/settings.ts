/**
 * Every setting, with its flag and environment variable: the CLI declares its
 * options from this table and error messages name settings from it, so the two
 * can never disagree. Parsed once into a frozen Config.
 */
export const SETTINGS = {
  databaseUrl: {
    flag: '--database-url <url>',
    env: 'DATABASE_URL',
    help: 'PostgreSQL connection URL: postgres://user:password@host:5432/db, or postgres://user@/db?host=/run/postgresql for a socket',
  },
  readDatabaseUrl: {
    flag: '--read-database-url <url>',
    env: 'EXPORT_READ_DATABASE_URL',
    help: "a hot standby of DATABASE_URL that the builds read the people's rows and file lists from, in snapshots that show the build's own claim (docs/operating.md: reading from a replica); claims, progress, publishing and the trail stay on DATABASE_URL",
  },
  replicaMaxLag: {
    flag: '--replica-max-lag <duration>',
    env: 'EXPORT_REPLICA_MAX_LAG',
    help: 'how long a build waits for the replica to show its claim before it reads from DATABASE_URL instead (logged, and counted in exporter_replica_fallbacks); shorter than EXPORT_STALL_TIMEOUT',
    default: '1m',
  },
  bucket: { flag: '--bucket <name>', env: 'S3_BUCKET', help: 'bucket the archives go to' },
  prefix: { flag: '--prefix <prefix>', env: 'S3_PREFIX', help: 'key prefix of every archive', default: 'exports/' },
  s3Endpoint: {
    flag: '--s3-endpoint <url>',
    env: 'S3_ENDPOINT',
    help: 'S3-compatible endpoint (MinIO, R2, …); AWS when unset',
  },
  s3ForcePathStyle: {
    flag: '--s3-force-path-style <bool>',
    env: 'S3_FORCE_PATH_STYLE',
    help: 'path-style addressing (MinIO)',
    default: 'false',
  },
  s3PublicEndpoint: {
    flag: '--s3-public-endpoint <url>',
    env: 'S3_PUBLIC_ENDPOINT',
    help: 'endpoint the download links are signed for, when users reach storage at another address',
  },
  region: { flag: '--region <region>', env: 'AWS_REGION', help: 'AWS region', default: 'us-east-1' },
  sse: {
    flag: '--sse <mode>',
    env: 'S3_SSE',
    help: 'server-side encryption: AES256, aws:kms, or none (only where the bucket encrypts by itself)',
    default: 'AES256',
  },
  sseKmsKeyId: { flag: '--sse-kms-key-id <id>', env: 'S3_SSE_KMS_KEY_ID', help: 'KMS key id for aws:kms' },
  linkTtl: {
    flag: '--link-ttl <duration>',
    env: 'EXPORT_LINK_TTL',
    help: 'download link lifetime: seconds or 7d, 36h, 15m; at most 7d',
    default: '7d',
  },
  maxAttempts: {
    flag: '--max-attempts <n>',
    env: 'EXPORT_MAX_ATTEMPTS',
    help: 'attempts before a request ends failed',
    default: '3',
  },
  concurrency: {
    flag: '--concurrency <n>',
    env: 'EXPORT_CONCURRENCY',
    help: 'requests built in parallel by one process',
    default: '2',
  },
  claimTtl: {
    flag: '--claim-ttl <duration>',
    env: 'EXPORT_CLAIM_TTL',
    help: 'how long a claim lives without renewal before another worker may take the request over',
    default: '5m',
  },
  stallTimeout: {
    flag: '--stall-timeout <duration>',
    env: 'EXPORT_STALL_TIMEOUT',
    help: 'a build that writes no row and uploads no byte for this long is abandoned (and retried after its backoff)',
    default: '3m',
  },
  zipLevel: { flag: '--zip-level <0-9>', env: 'EXPORT_ZIP_LEVEL', help: 'deflate level of the archive', default: '1' },
  logLevel: {
    flag: '--log-level <level>',
    env: 'LOG_LEVEL',
    help: 'fatal, error, warn, info, debug or trace',
    default: 'info',
  },
  pushgatewayUrl: {
    flag: '--pushgateway-url <url>',
    env: 'PUSHGATEWAY_URL',
    help: 'Prometheus Pushgateway that each run pushes its figures to',
  },
  smtpUrl: {
    flag: '--smtp-url <url>',
    env: 'SMTP_URL',
    help: 'SMTP server for the "your export is ready" email (smtp:// or smtps://); no email without it',
  },
  mailFrom: {
    flag: '--mail-from <address>',
    env: 'MAIL_FROM',
    help: 'sender of the email, e.g. "Example <no-reply@example.com>"',
  },
  requestWindow: {
    flag: '--request-window <duration>',
    env: 'EXPORT_REQUEST_WINDOW',
    help: 'a user may have one request that has not failed per this window',
    default: '24h',
  },
  retryBackoff: {
    flag: '--retry-backoff <duration>',
    env: 'EXPORT_RETRY_BACKOFF',
    help: 'a request that failed for a passing reason is retried after this, doubled per attempt (at most 6h)',
    default: '5m',
  },
  pollInterval: {
    flag: '--poll-interval <duration>',
    env: 'EXPORT_POLL_INTERVAL',
    help: 'work: how often an idle worker looks for requests while LISTEN is healthy (every 2 s while it is not)',
    default: '1m',
  },
  pollOnly: {
    flag: '--poll-only <bool>',
    env: 'EXPORT_POLL_ONLY',
    help: 'work: no LISTEN (PgBouncer in transaction mode); poll every 2 s',
    default: 'false',
  },
  housekeepingInterval: {
    flag: '--housekeeping-interval <duration>',
    env: 'EXPORT_HOUSEKEEPING_INTERVAL',
    help: 'work: how often expire, the sweep, owed emails and abandoned requests are handled (once across all workers)',
    default: '1h',
  },
  shutdownGrace: {
    flag: '--shutdown-grace <duration>',
    env: 'EXPORT_SHUTDOWN_GRACE',
    help: 'work: on SIGTERM, how long builds in flight may take to finish before they are handed back',
    default: '25s',
  },
  definition: {
    flag: '--definition <file>',
    env: 'EXPORT_DEFINITION',
    help: 'what leaves the database: a definition file (YAML); the one for the sample schema when unset',
  },
  httpPort: {
    flag: '--http-port <port>',
    env: 'EXPORT_HTTP_PORT',
    help: 'work: serve /livez, /readyz and /metrics on this port (off when unset)',
  },
  maxFileBytes: {
    flag: '--max-file-bytes <size>',
    env: 'EXPORT_MAX_FILE_BYTES',
    help: "a user's file larger than this is left out of the archive (listed as too_large): bytes or 500MB, 5GiB",
    default: '5GiB',
  },
  spoolDir: {
    flag: '--spool-dir <dir>',
    env: 'EXPORT_SPOOL_DIR',
    help: "where a big entity's CSV, read at the same time as its JSON, waits for its turn (deflated, in a file deleted as soon as it is made); none: in memory, 4 MiB, then it waits",
    default: 'the system temporary directory',
  },
  maxArchiveBytes: {
    flag: '--max-archive-bytes <size>',
    env: 'EXPORT_MAX_ARCHIVE_BYTES',
    help: 'a request whose data and files add up to more than this is refused up front, with the reason on the request (and stopped at it while written)',
    default: '100GiB',
  },
  auditRetention: {
    flag: '--audit-retention <duration>',
    env: 'EXPORT_AUDIT_RETENTION',
    help: "how long the audit trail keeps a request's events (expire deletes older ones; they outlive the request row)",
    default: '1095d',
  },
  eraseBatch: {
    flag: '--erase-batch <n>',
    env: 'EXPORT_ERASE_BATCH',
    help: 'rows an erasure deletes or changes per transaction (each under a 1 s lock timeout)',
    default: '1000',
  },
  eraseHmacKey: {
    flag: '--erase-hmac-key <key>',
    env: 'EXPORT_ERASE_HMAC_KEY',
    help: 'the key of erase.anonymize hmac pseudonyms (at least 32 characters; a secret: while it exists, pseudonyms are personal data)',
  },
  viewer: {
    flag: '--viewer <bool>',
    env: 'EXPORT_VIEWER',
    help: 'put index.html in each archive: a page that shows the data offline in any browser (docs/archive.md: the viewer)',
    default: 'true',
  },
  viewerRows: {
    flag: '--viewer-rows <n>',
    env: 'EXPORT_VIEWER_ROWS',
    help: "the viewer's page holds at most this many rows per kind of data (all of them stay in the JSON and CSV)",
    default: '10000',
  },
  maxFiles: {
    flag: '--max-files <n>',
    env: 'EXPORT_MAX_FILES',
    help: "a request whose rows point at more of the user's files than this is refused up front, with the reason on the request (memory grows with the files of one archive: docs/performance.md)",
    default: '100000',
  },
} as const;

export type SettingName = keyof typeof SETTINGS;

export type RawSettings = Partial<Record<SettingName, string>>;

export function settingLabel(name: SettingName): string {
  const s = SETTINGS[name];
  return `${s.env} (${s.flag.split(' ')[0]})`;
}
