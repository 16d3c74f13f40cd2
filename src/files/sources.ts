import type { StorageConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { FileSourceRule } from '../model/definition.ts';
import { registerSecret } from '../redact.ts';
import { makeS3Client } from '../storage/s3-client.ts';
import { sameStore } from '../storage/same-store.ts';
import type { FileSource } from './file-source.ts';
import { HttpsFileSource } from './https-source.ts';
import { S3FileSource } from './s3-source.ts';
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS } from './timeouts.ts';

export {
  type FileBody,
  type FileHead,
  FileRefusedError,
  type FileSource,
  MISSING,
  type ReadOptions,
} from './file-source.ts';

/** The file sources of a definition, opened with their settings. */
export class FileSources {
  private readonly sources: ReadonlyMap<string, FileSource>;
  constructor(sources: readonly FileSource[]) {
    this.sources = new Map(sources.map((s) => [s.name, s]));
  }

  get(name: string): FileSource {
    const source = this.sources.get(name);
    if (!source) throw new Error(`no file source named ${name}`);
    return source;
  }

  destroy(): void {
    for (const source of this.sources.values()) source.destroy();
  }
}

/**
 * Opens a definition's file sources. A bucket source uses the export
 * storage's endpoint, region and credentials unless the definition or the
 * environment says otherwise: EXPORT_SOURCE_<NAME>_BUCKET, _PREFIX, _ENDPOINT,
 * _REGION, _FORCE_PATH_STYLE, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY (never
 * the file: it is committed). Every problem is reported at once.
 */
export function openFileSources(
  rules: Readonly<Record<string, FileSourceRule>>,
  storage: StorageConfig,
  env: NodeJS.ProcessEnv = process.env,
): FileSources {
  const problems: string[] = [];
  const sources: FileSource[] = [];
  for (const rule of Object.values(rules)) {
    const label = (suffix: string) => `EXPORT_SOURCE_${rule.name.toUpperCase()}_${suffix}`;
    const setting = (suffix: string) => env[label(suffix)]?.trim() || undefined;
    if (rule.kind === 'https') {
      sources.push(new HttpsFileSource(rule.name, rule.hosts));
      continue;
    }
    const bucket = setting('BUCKET') ?? rule.bucket;
    const endpoint = setting('ENDPOINT') ?? rule.endpoint ?? storage.endpoint;
    if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint))
      problems.push(`${label('ENDPOINT')} is not a valid http or https URL`);
    const pathStyle = setting('FORCE_PATH_STYLE');
    if (pathStyle !== undefined && !['true', 'false'].includes(pathStyle))
      problems.push(`${label('FORCE_PATH_STYLE')} must be true or false`);
    const accessKeyId = setting('ACCESS_KEY_ID');
    const secretAccessKey = setting('SECRET_ACCESS_KEY');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
      problems.push(`${label('ACCESS_KEY_ID')} and ${label('SECRET_ACCESS_KEY')} go together`);
    registerSecret(secretAccessKey);
    const client = makeS3Client({
      region: setting('REGION') ?? rule.region ?? storage.region,
      endpoint,
      forcePathStyle: pathStyle !== undefined ? pathStyle === 'true' : (rule.forcePathStyle ?? storage.forcePathStyle),
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : storage.credentials,
      // One try per call: the caller retries, resuming a read where it broke off.
      maxAttempts: 1,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      requestTimeoutMs: IDLE_TIMEOUT_MS,
    });
    const prefix = setting('PREFIX') ?? rule.prefix;
    // The same bucket of the same server as the archives, however either is spelled (same-store.ts).
    const overlapsExports = sameStore({ endpoint, bucket }, { endpoint: storage.endpoint, bucket: storage.bucket });
    if (overlapsExports && (prefix.startsWith(storage.prefix) || storage.prefix.startsWith(prefix))) {
      problems.push(
        `file source ${rule.name} (bucket ${bucket}, prefix ${JSON.stringify(prefix)}) overlaps the export area (S3_BUCKET ${storage.bucket}, S3_PREFIX ${JSON.stringify(storage.prefix)}): a key could read archives; give the source a prefix outside S3_PREFIX (${label('PREFIX')}) or its own bucket`,
      );
    }
    // Keys under S3_PREFIX are refused one by one wherever the bucket may be the archives': the same store, or a bucket of
    // the same name behind another name of the server (a DNS name and its address), which no spelling rule can see.
    const fenced = overlapsExports || bucket.toLowerCase() === storage.bucket.toLowerCase();
    sources.push(new S3FileSource(rule.name, client, bucket, prefix, fenced ? storage.prefix : undefined));
  }
  if (problems.length > 0) {
    for (const s of sources) s.destroy();
    throw new ConfigError(problems);
  }
  return new FileSources(sources);
}
