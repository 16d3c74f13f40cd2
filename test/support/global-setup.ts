import type { TestProject } from 'vitest/node';
import { type S3Info, startServices } from '../../scripts/lib/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** The S3 API the tests use: one that checks signatures (RADOS Gateway, MinIO) wherever one can be had. */
    s3: S3Info;
    /** s3rver, for storage that lacks an API (ListMultipartUploads). */
    s3rver: S3Info;
  }
}

export default async function setup(project: TestProject) {
  const services = await startServices();
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('s3', services.s3);
  project.provide('s3rver', services.s3rver);
  return () => services.stop();
}
