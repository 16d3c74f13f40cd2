import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  type FileBody,
  type FileHead,
  FileRefusedError,
  type FileSource,
  MISSING,
  type ReadOptions,
} from './file-source.ts';
import { linkedSignal } from './linked-signal.ts';
import { keyProblem } from './locators.ts';

/** Files in a bucket, by object key (with the source's prefix before it). */
export class S3FileSource implements FileSource {
  readonly name: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  /** S3_PREFIX, where this bucket is also the archives': no key under it is ever read. */
  private readonly exportPrefix: string | undefined;
  /** Whether the bucket keeps versions, once asked (an erasure's deletes). */
  private versioning: 'never' | 'maybe' | undefined;

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
    if (this.exportPrefix !== undefined && (this.prefix + key).startsWith(this.exportPrefix))
      return 'its key points at the exported archives';
    return undefined;
  }

  async head(key: string, signal: AbortSignal): Promise<FileHead | typeof MISSING> {
    const link = linkedSignal(signal);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
        abortSignal: link.signal,
      });
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
      return {
        bytes: length === undefined ? Number.NaN : from + length,
        contentType: got.ContentType,
        etag: got.ETag,
        body,
        resumable: length !== undefined,
      };
    } catch (error) {
      link.release();
      return missingOrThrow(error);
    }
  }

  /**
   * Deletes the file, and in a versioned bucket every version of it (the
   * "null" one written before versioning was turned on included) and its
   * delete markers: a DeleteObject there only hides the object behind a
   * marker, and each version is still the person's file. Only this very
   * key's versions, never another's that begins with it. Whether the bucket
   * keeps versions is asked once (GetBucketVersioning): one that never did
   * keeps none (so credentials made before this need nothing new), and a
   * store without that API keeps none either; one whose versions cannot be
   * listed or deleted fails the erasure, which says so (never done with the
   * person's file still there).
   */
  async remove(key: string, signal: AbortSignal): Promise<boolean> {
    const refused = this.refusal(key);
    if (refused) throw new FileRefusedError(`not deleted: ${refused}`, 'it could not be deleted');
    const existed = (await this.head(key, signal)) !== MISSING;
    if (existed)
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
        abortSignal: signal,
      });
    const versioned = (await this.keepsVersions(signal)) !== 'never';
    const versions = versioned ? await this.versionsOf(key, signal) : [];
    for (const versionId of versions)
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, VersionId: versionId }),
        { abortSignal: signal },
      );
    if ((await this.head(key, signal)) !== MISSING || (versioned && (await this.versionsOf(key, signal)).length > 0))
      throw new Error(`${this.name}: an object was deleted and is still there`);
    return existed || versions.length > 0;
  }

  /** Whether the bucket keeps versions: never (never versioned, or no such API), or it may (versioned, suspended, or not said). */
  private async keepsVersions(signal: AbortSignal): Promise<'never' | 'maybe'> {
    if (this.versioning) return this.versioning;
    const answer = await this.client
      .send(new GetBucketVersioningCommand({ Bucket: this.bucket }), { abortSignal: signal })
      .then((r) => (r.Status === undefined ? ('never' as const) : ('maybe' as const)))
      .catch((error: unknown) => {
        if (noVersionsApi(error)) return 'never' as const;
        // Not allowed to ask: its versions are listed (which needs its own permission) rather than assumed away.
        if (accessDenied(error)) return 'maybe' as const;
        throw error;
      });
    this.versioning = answer;
    return answer;
  }

  /** The version ids of this very key, its delete markers included. */
  private async versionsOf(key: string, signal: AbortSignal): Promise<string[]> {
    const full = this.prefix + key;
    const ids: string[] = [];
    let marker: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: full, ...marker }),
        { abortSignal: signal },
      );
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])])
        if (v.Key === full && v.VersionId) ids.push(v.VersionId);
      if (!page.IsTruncated) return ids;
      const next = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
      // A store that says there is more without saying where, or the same place again, would list for ever.
      if (!next.KeyMarker || (next.KeyMarker === marker.KeyMarker && next.VersionIdMarker === marker.VersionIdMarker))
        throw new Error(`${this.name}: the bucket's list of versions did not say where it goes on`);
      marker = next;
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** A store that has no versions API (and so keeps no versions): it refuses the method itself, not this caller. */
function noVersionsApi(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return e.name === 'MethodNotAllowed' || e.name === 'NotImplemented' || status === 405 || status === 501;
}

function accessDenied(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403;
}

function missingOrThrow(error: unknown): typeof MISSING {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return MISSING;
  if (status === 403 || e.name === 'AccessDenied' || e.name === 'NoSuchBucket') {
    // Access denied on one file, or a bucket that is not there: no retry will change that.
    throw new FileRefusedError(
      `the source refused it (${e.name ?? 'HTTP 403'})`,
      `our storage refused to hand it over (${/^\w{1,40}$/.test(e.name ?? '') ? e.name : 'HTTP 403'})`,
      { cause: error },
    );
  }
  throw error;
}
