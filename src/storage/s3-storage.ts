import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { StorageConfig } from '../config.ts';
import { uploadStream } from './multipart-upload.ts';
import { makeS3Client } from './s3-client.ts';

export interface StoredObject {
  key: string;
  lastModified: Date;
  size: number;
}

export interface PendingUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface PresignedLink {
  url: string;
  /** When the link stops working: the lifetime asked for, or earlier if the signing credentials expire first. */
  expiresAt: Date;
  /** Set when the credentials cut the link short. */
  credentialsExpireFirst: boolean;
}

export interface UploadOptions {
  contentDisposition: string;
  signal: AbortSignal;
  onProgress?: (bytesUploaded: number) => void;
  /** The archive's expected size, once known (before its first byte): parts grow with it past the 8 MiB base. */
  expectedBytes?: () => number | undefined;
}

/**
 * Everything the exporter does with object storage. Knows nothing of
 * requests or SQL: keys in, objects out.
 */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** What follows the prefix in an archive's key: `<user id>/<request id>/<claim id>.zip`. */
const ARCHIVE_KEY = new RegExp(`^[^/]+/${UUID}/${UUID}\\.zip$`);

/**
 * A user id as one segment of a key. The id is any key of the application's
 * user table, as text (a uuid, a number, or text a user may have chosen), so
 * it is encoded: no `/` can add a level and no `.` or `..` make a segment
 * that some S3-compatible servers resolve; a uuid or a number stays as it is.
 * Past 200 characters encoded, its SHA-256 instead (a key has 1,024 bytes).
 */
export function userSegment(userId: string): string {
  const encoded = encodeURIComponent(userId).replaceAll('.', '%2E');
  return encoded.length <= 200 && encoded !== ''
    ? encoded
    : `sha256-${createHash('sha256').update(userId).digest('hex')}`;
}

export class S3Storage {
  readonly config: StorageConfig;
  private readonly client: S3Client;
  /** Signs links against the address users reach, which may differ from the worker's. */
  private readonly signer: S3Client;

  constructor(config: StorageConfig) {
    this.config = config;
    this.client = makeClient(config, config.endpoint);
    this.signer = config.publicEndpoint ? makeClient(config, config.publicEndpoint) : this.client;
  }

  /**
   * `<prefix><user id>/<request id>/<claim id>.zip`. The claim id is random and
   * new for every attempt, so the key is not guessable from a user id, and a
   * late worker whose claim was taken over can never overwrite the newer archive.
   */
  objectKey(userId: string, requestId: string, claimId: string): string {
    return `${this.config.prefix}${userSegment(userId)}/${requestId}/${claimId}.zip`;
  }

  /**
   * Whether a key has the shape objectKey() makes: the sweep deletes nothing
   * else, whatever else an operator or another program put under the prefix.
   */
  isArchiveKey(key: string): boolean {
    if (!key.startsWith(this.config.prefix)) return false;
    return ARCHIVE_KEY.test(key.slice(this.config.prefix.length));
  }

  /**
   * Streams `body` into one object (multipart past one part). An error or
   * abort leaves no parts behind, and the promise settles only when no
   * request of the upload is in flight: after a failure, a delete of `key`
   * is final (src/storage/multipart-upload.ts says why that matters).
   */
  async upload(key: string, body: Readable, options: UploadOptions): Promise<void> {
    await uploadStream(body, {
      client: this.client,
      params: {
        Bucket: this.config.bucket,
        Key: key,
        ContentType: 'application/zip',
        ContentDisposition: options.contentDisposition,
        ...this.encryptionParams(),
      },
      basePartBytes: this.config.partSizeBytes,
      expectedBytes: options.expectedBytes,
      queueSize: this.config.queueSize,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  }

  async presign(
    key: string,
    options: { ttlSeconds: number; signedAt: Date; filename: string },
  ): Promise<PresignedLink> {
    const command = new GetObjectCommand({
      Bucket: this.config.bucket,
      Key: key,
      ResponseContentDisposition: `attachment; filename="${options.filename}"`,
    });
    const url = await getSignedUrl(this.signer, command, {
      expiresIn: options.ttlSeconds,
      signingDate: options.signedAt,
    });
    const wanted = new Date(options.signedAt.getTime() + options.ttlSeconds * 1000);
    // A SigV4 link stops working when the credentials that signed it expire
    // (role or STS credentials last hours, not days).
    const credentials = await this.signer.config.credentials();
    const credentialsExpire = credentials.expiration;
    if (credentialsExpire && credentialsExpire < wanted) {
      return { url, expiresAt: credentialsExpire, credentialsExpireFirst: true };
    }
    return { url, expiresAt: wanted, credentialsExpireFirst: false };
  }

  /** Deletes an object; one that is already gone is fine. */
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
  }

  /** The objects under the prefix (or under `under`, a folder inside it). */
  async *listObjects(under = ''): AsyncGenerator<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: this.config.prefix + under,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key && o.LastModified) yield { key: o.Key, lastModified: o.LastModified, size: o.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *listPendingUploads(): AsyncGenerator<PendingUpload> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.config.bucket,
          Prefix: this.config.prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId && u.Initiated) yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated };
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.client.send(
      new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key: key, UploadId: uploadId }),
    );
  }

  /**
   * A small object of the exporter's own (an audit anchor), under the prefix.
   * `retainUntil`: kept from deletion and change until then by S3 Object Lock
   * (compliance mode), for a bucket that has it.
   */
  async putSmall(key: string, body: string, options: { contentType: string; retainUntil?: Date }): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        ...this.encryptionParams(),
        ...(options.retainUntil
          ? { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: options.retainUntil }
          : {}),
      }),
    );
  }

  /** A small object's text, or undefined when there is none. */
  async getSmall(key: string): Promise<string | undefined> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return await got.Body!.transformToString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Until when S3 Object Lock keeps an object from deletion and change, or undefined (none, or a store without it). */
  async retainedUntil(key: string): Promise<Date | undefined> {
    try {
      const got = await this.client.send(new GetObjectRetentionCommand({ Bucket: this.config.bucket, Key: key }));
      return got.Retention?.RetainUntilDate;
    } catch {
      return undefined;
    }
  }

  /** Whether the bucket has S3 Object Lock (false where the store has no such thing). */
  async objectLockEnabled(): Promise<boolean> {
    try {
      const got = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.config.bucket }));
      return got.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch {
      return false;
    }
  }

  /** Fails fast when the bucket cannot be reached, before any request is claimed. */
  async checkReachable(signal: AbortSignal): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }), { abortSignal: signal });
  }

  destroy(): void {
    this.client.destroy();
    if (this.signer !== this.client) this.signer.destroy();
  }

  private encryptionParams(): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string } {
    const { sse, sseKmsKeyId } = this.config;
    if (sse === 'none') return {};
    if (sse === 'aws:kms')
      return { ServerSideEncryption: 'aws:kms', ...(sseKmsKeyId ? { SSEKMSKeyId: sseKmsKeyId } : {}) };
    return { ServerSideEncryption: 'AES256' };
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function makeClient(config: StorageConfig, endpoint: string | undefined): S3Client {
  return makeS3Client({ ...config, endpoint, credentials: config.credentials, maxAttempts: 3 });
}
