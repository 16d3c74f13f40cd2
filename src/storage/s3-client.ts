import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface S3ClientSettings {
  region: string;
  /** An S3-compatible server (MinIO, R2, …); AWS when unset. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Explicit credentials or a provider; otherwise the AWS default chain. */
  credentials: S3ClientConfig['credentials'] | undefined;
  /** Tries per call: the export storage retries a few times, a file source once (its caller resumes a read where it broke off). */
  maxAttempts: number;
  connectTimeoutMs: number;
  /** Without a byte for this long, a request is given up. */
  requestTimeoutMs: number;
}

/** The one way the exporter makes an S3 client: the export storage's and each file source's. */
export function makeS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    // Bounded retries and timeouts: a storage outage must end the run, never hang it.
    maxAttempts: settings.maxAttempts,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: settings.connectTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
    }),
    // Recent SDKs add CRC32 checksums to every upload by default; MinIO
    // versions, R2 and other S3-compatible servers reject or mishandle them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
}
