import type { TestProject } from 'vitest/node';
import { startServices } from '../../scripts/lib/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; kind: 'external' | 'minio' | 's3rver' };
  }
}

export default async function setup(project: TestProject) {
  const services = await startServices();
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('s3', services.s3);
  return () => services.stop();
}
