import { ARCHIVE_FORMAT } from './json-schema.ts';
import type { FileOutcome, UserFileRecord } from './write-files.ts';
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
  /** The archive's layout (src/export/json-schema.ts). */
  format: typeof ARCHIVE_FORMAT;
  request_id: string;
  user_id: string;
  /** The moment of the database snapshot every file was read from. */
  as_of: string;
  link_expires_at: string;
  exporter_version: string;
  schema_version: string;
  entities: Record<string, EntityManifest>;
  /** How many of the user's files ended each way. */
  file_counts: Record<FileOutcome, number>;
  /** Every one of the user's files, with what became of it: none is left out silently. */
  files: UserFileRecord[];
}

export function buildManifest(input: {
  requestId: string;
  userId: string;
  asOf: string;
  linkExpiresAt: Date;
  exporterVersion: string;
  schemaVersion: string;
  entities: Record<string, EntityManifest>;
  files: UserFileRecord[];
}): Manifest {
  const counts: Record<FileOutcome, number> = { included: 0, missing: 0, too_large: 0, failed: 0 };
  for (const f of input.files) counts[f.outcome]++;
  return {
    format: ARCHIVE_FORMAT,
    request_id: input.requestId,
    user_id: input.userId,
    as_of: input.asOf,
    link_expires_at: input.linkExpiresAt.toISOString(),
    exporter_version: input.exporterVersion,
    schema_version: input.schemaVersion,
    entities: input.entities,
    file_counts: counts,
    files: input.files,
  };
}

/** Rows per entity, as stored on the request. */
export function rowCounts(manifest: Manifest): Record<string, number> {
  return Object.fromEntries(Object.entries(manifest.entities).map(([name, e]) => [name, e.rows]));
}
