import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { makeS3Client } from '../storage/s3-client.ts';
import type { StorageConfig } from '../config.ts';
import type { FileSourceRule } from '../definition/definition.ts';
import { ConfigError } from '../errors.ts';
import { registerSecret } from '../redact.ts';
import { keyProblem, urlProblem } from './locators.ts';

/** What a source says about a file before its bytes. */
export interface FileHead {
  bytes: number;
  contentType: string | undefined;
  /** Pins a resumed read to the same version of the file. */
  etag: string | undefined;
}

export interface FileBody extends FileHead {
  body: Readable;
  /** A read that breaks off can go on from a byte offset (Range): the body is the file's bytes as stored, of a known length. */
  resumable: boolean;
}

/** The source answered that the file does not exist (404): a fact, not an outage. */
export const MISSING = 'missing' as const;

/**
 * The source will never serve this file, whatever the retries: an address
 * that is not on the allowed hosts, a redirect elsewhere, access denied.
 */
export class FileRefusedError extends Error {
  override name = 'FileRefusedError';
  /** For the archive (manifest.json, README.txt): plain words, no key, URL or host. */
  readonly publicText: string;
  constructor(message: string, publicText: string, options?: ErrorOptions) {
    super(message, options);
    this.publicText = publicText;
  }
}

export interface ReadOptions {
  /** Resume from this byte, of the version with this ETag. */
  from?: number;
  etag?: string;
  signal: AbortSignal;
}

/** Where a user's files are read from. Read only: the exporter never writes or deletes a source's files. */
export interface FileSource {
  readonly name: string;
  /** Why this key or URL (from the database: untrusted) is never read, or undefined when it may be. */
  refusal(locator: string): string | undefined;
  head(locator: string, signal: AbortSignal): Promise<FileHead | typeof MISSING>;
  read(locator: string, options: ReadOptions): Promise<FileBody | typeof MISSING>;
  destroy(): void;
}

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

const CONNECT_TIMEOUT_MS = 5_000;
/** Without a byte for this long, a read is given up (and retried). */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * Opens a definition's file sources. A bucket source uses the export
 * storage's endpoint, region and credentials unless the definition or the
 * environment says otherwise: EXPORT_SOURCE_<NAME>_BUCKET, _PREFIX, _ENDPOINT,
 * _REGION, _FORCE_PATH_STYLE, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY (never
 * the file: it is committed). Every problem is reported at once.
 */
export function openFileSources(rules: Readonly<Record<string, FileSourceRule>>, storage: StorageConfig, env: NodeJS.ProcessEnv = process.env): FileSources {
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
    if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) problems.push(`${label('ENDPOINT')} is not a valid http or https URL`);
    const pathStyle = setting('FORCE_PATH_STYLE');
    if (pathStyle !== undefined && !['true', 'false'].includes(pathStyle)) problems.push(`${label('FORCE_PATH_STYLE')} must be true or false`);
    const accessKeyId = setting('ACCESS_KEY_ID');
    const secretAccessKey = setting('SECRET_ACCESS_KEY');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) problems.push(`${label('ACCESS_KEY_ID')} and ${label('SECRET_ACCESS_KEY')} go together`);
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
    // The same bucket of the same server as the archives (no endpoint of its own, or the same one).
    const sameStore = bucket === storage.bucket && (endpoint ?? '') === (storage.endpoint ?? '');
    if (sameStore && (prefix.startsWith(storage.prefix) || storage.prefix.startsWith(prefix))) {
      problems.push(
        `file source ${rule.name} (bucket ${bucket}, prefix ${JSON.stringify(prefix)}) overlaps the export area (S3_BUCKET ${storage.bucket}, S3_PREFIX ${JSON.stringify(storage.prefix)}): a key could read archives; give the source a prefix outside S3_PREFIX (${label('PREFIX')}) or its own bucket`,
      );
    }
    sources.push(new S3FileSource(rule.name, client, bucket, prefix, sameStore ? storage.prefix : undefined));
  }
  if (problems.length > 0) {
    for (const s of sources) s.destroy();
    throw new ConfigError(problems);
  }
  return new FileSources(sources);
}

/** Files in a bucket, by object key (with the source's prefix before it). */
class S3FileSource implements FileSource {
  readonly name: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  /** S3_PREFIX, where this bucket is also the archives': no key under it is ever read. */
  private readonly exportPrefix: string | undefined;

  constructor(name: string, client: S3Client, bucket: string, prefix: string, exportPrefix: string | undefined) {
    this.name = name;
    this.client = client;
    this.bucket = bucket;
    this.prefix = prefix;
    this.exportPrefix = exportPrefix;
  }

  refusal(key: string): string | undefined {
    const problem = keyProblem(key);
    if (problem) return problem;
    // openFileSources refuses a source that overlaps the archives; this holds whatever a future setting allows.
    if (this.exportPrefix !== undefined && (this.prefix + key).startsWith(this.exportPrefix)) return 'its key points at the exported archives';
    return undefined;
  }

  async head(key: string, signal: AbortSignal): Promise<FileHead | typeof MISSING> {
    const link = linkedSignal(signal);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: link.signal });
      return { bytes: head.ContentLength ?? Number.NaN, contentType: head.ContentType, etag: head.ETag };
    } catch (error) {
      return missingOrThrow(error);
    } finally {
      link.release();
    }
  }

  async read(key: string, options: ReadOptions): Promise<FileBody | typeof MISSING> {
    const link = linkedSignal(options.signal);
    try {
      const from = options.from ?? 0;
      const got = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(from > 0 ? { Range: `bytes=${from}-` } : {}),
          ...(options.etag ? { IfMatch: options.etag } : {}),
        }),
        { abortSignal: link.signal },
      );
      // A resumed read must be the rest of the file, never the whole of it again.
      if (from > 0 && !got.ContentRange?.startsWith(`bytes ${from}-`)) {
        (got.Body as Readable).destroy();
        throw new Error(`the source did not resume the file at byte ${from}`);
      }
      const body = got.Body as Readable;
      body.once('close', link.release);
      const length = got.ContentLength;
      return { bytes: length === undefined ? Number.NaN : from + length, contentType: got.ContentType, etag: got.ETag, body, resumable: length !== undefined };
    } catch (error) {
      link.release();
      return missingOrThrow(error);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

function missingOrThrow(error: unknown): typeof MISSING {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return MISSING;
  if (status === 403 || e.name === 'AccessDenied' || e.name === 'NoSuchBucket') {
    // Access denied on one file, or a bucket that is not there: no retry will change that.
    throw new FileRefusedError(`the source refused it (${e.name ?? 'HTTP 403'})`, `our storage refused to hand it over (${/^\w{1,40}$/.test(e.name ?? '') ? e.name : 'HTTP 403'})`, { cause: error });
  }
  throw error;
}

/** Files behind https URLs, on the hosts the definition allows and nowhere else (redirects included). */
class HttpsFileSource implements FileSource {
  readonly name: string;
  private readonly hosts: ReadonlySet<string>;

  constructor(name: string, hosts: readonly string[]) {
    this.name = name;
    this.hosts = new Set(hosts);
  }

  async head(url: string, signal: AbortSignal): Promise<FileHead | typeof MISSING> {
    const link = linkedSignal(signal);
    try {
      const response = await this.fetch(url, 'HEAD', {}, link.signal);
      return response === MISSING ? MISSING : headOf(response, 0);
    } finally {
      link.release();
    }
  }

  async read(url: string, options: ReadOptions): Promise<FileBody | typeof MISSING> {
    const from = options.from ?? 0;
    const headers: Record<string, string> = {};
    if (from > 0) headers.range = `bytes=${from}-`;
    if (options.etag) headers['if-match'] = options.etag;
    const link = linkedSignal(options.signal);
    try {
      const response = await this.fetch(url, 'GET', headers, link.signal);
      if (response === MISSING) {
        link.release();
        return MISSING;
      }
      if (from > 0 && response.status !== 206) {
        await response.body?.cancel();
        throw new Error(`the source did not resume the file at byte ${from} (HTTP ${response.status})`);
      }
      const body = Readable.fromWeb(response.body! as import('node:stream/web').ReadableStream<Uint8Array>);
      body.once('close', link.release);
      const head = headOf(response, from);
      return { ...head, body, resumable: Number.isFinite(head.bytes) };
    } catch (error) {
      link.release();
      throw error;
    }
  }

  refusal(url: string): string | undefined {
    return urlProblem(url);
  }

  destroy(): void {}

  /** Follows at most three redirects, each to an allowed host over https. */
  private async fetch(url: string, method: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response | typeof MISSING> {
    let target = this.allowed(url);
    for (let hop = 0; hop <= 3; hop++) {
      // A deadline for the answer's headers only: the body of a large file may rightly take longer (the build's stall watchdog covers a body that stops).
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(Object.assign(new Error(`no answer within ${IDLE_TIMEOUT_MS / 1000} s`), { name: 'TimeoutError' })), IDLE_TIMEOUT_MS);
      // `signal` is this read's own (linkedSignal), so this listener goes with the read.
      signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
      let response: Response;
      try {
        // The file as stored: a body sent compressed is decoded by fetch, and its length and byte offsets are then the compressed ones.
        response = await fetch(target, { method, headers: { ...headers, 'accept-encoding': 'identity' }, redirect: 'manual', signal: controller.signal });
      } finally {
        clearTimeout(timer);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        await response.body?.cancel();
        target = this.allowed(new URL(response.headers.get('location')!, target).toString());
        continue;
      }
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return MISSING;
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel();
        throw new FileRefusedError(`the source refused it (HTTP ${response.status})`, `its server refused to hand it over (HTTP ${response.status})`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw Object.assign(new Error(`the source answered HTTP ${response.status}`), { statusCode: response.status });
      }
      return response;
    }
    throw new FileRefusedError('too many redirects', 'its server redirected too many times');
  }

  private allowed(text: string): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new FileRefusedError('its address is not a URL', 'its address is not a web address');
    }
    if (url.protocol !== 'https:') throw new FileRefusedError('its address is not https', 'its address is not https');
    if (url.username || url.password) throw new FileRefusedError('its address carries credentials', 'its address carries a password');
    if (!this.hosts.has(url.host.toLowerCase())) {
      throw new FileRefusedError(`its host ${url.host} is not on the allowed hosts of source ${this.name}`, 'its address is not on a server we read files from');
    }
    return url;
  }
}

/**
 * A signal of its own for one request, following the caller's until
 * `release`. The build's signal lives as long as the build and would be
 * handed to thousands of requests (one per file); listeners that an HTTP
 * layer leaves on a long-lived signal hold each request's objects until the
 * build ends (smithy-typescript#1318), so each request gets its own and the
 * link is cut when the request is over.
 */
function linkedSignal(parent: AbortSignal): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, release: () => parent.removeEventListener('abort', onAbort) };
}

/**
 * What an answer says of the file. A server that compressed the body all the
 * same (Content-Encoding, despite `identity`): fetch hands over the decoded
 * bytes, which are stored as they come, while Content-Length counts the
 * encoded ones; its size is then unknown (counted instead), and it cannot be
 * resumed at a byte offset.
 */
function headOf(response: Response, from: number): FileHead {
  const encoding = response.headers.get('content-encoding')?.trim().toLowerCase();
  const encoded = encoding !== undefined && encoding !== '' && encoding !== 'identity';
  const length = encoded ? Number.NaN : Number(response.headers.get('content-length') ?? Number.NaN);
  return {
    bytes: Number.isFinite(length) ? from + length : Number.NaN,
    contentType: response.headers.get('content-type') ?? undefined,
    etag: response.headers.get('etag') ?? undefined,
  };
}
