import { ARCHIVE_FORMAT } from './json-schema.ts';
import type { WrittenFile } from './zip-writer.ts';

export interface ManifestFile extends WrittenFile {
  format: 'json' | 'csv';
}

export interface EntityManifest {
  rows: number;
  files: ManifestFile[];
}

/** manifest.json: what the archive holds, and how to check it. Keys are snake_case like the data. */
export interface Manifest {
  /** The archive's layout (src/export/json-schema.ts): 2 added schema.json. */
  format: typeof ARCHIVE_FORMAT;
  request_id: string;
  user_id: string;
  /** The moment of the database snapshot every file was read from. */
  as_of: string;
  link_expires_at: string;
  exporter_version: string;
  schema_version: string;
  entities: Record<string, EntityManifest>;
}

export function buildManifest(input: {
  requestId: string;
  userId: string;
  asOf: string;
  linkExpiresAt: Date;
  exporterVersion: string;
  schemaVersion: string;
  entities: Record<string, EntityManifest>;
}): Manifest {
  return {
    format: ARCHIVE_FORMAT,
    request_id: input.requestId,
    user_id: input.userId,
    as_of: input.asOf,
    link_expires_at: input.linkExpiresAt.toISOString(),
    exporter_version: input.exporterVersion,
    schema_version: input.schemaVersion,
    entities: input.entities,
  };
}

/** Rows per entity, as stored on the request. */
export function rowCounts(manifest: Manifest): Record<string, number> {
  return Object.fromEntries(Object.entries(manifest.entities).map(([name, e]) => [name, e.rows]));
}
