/**
 * The archive as the person receives it: the shape of manifest.json and the
 * records it keeps of every file. What the archive writer (src/archive/)
 * fills in, the viewer reads, and the request stores; nothing here writes.
 */

/** The version of the archive's layout, in manifest.json (`format`); 2 added schema.json, 3 the user's files (files/, manifest `files`). */
export const ARCHIVE_FORMAT = 'data-export/3';

/** The name the person's browser saves the archive under: the day it was made. */
export function archiveFilename(madeAt: Date): string {
  return `data-export-${madeAt.toISOString().slice(0, 10)}.zip`;
}

/** An entry of the archive as written: where, how many bytes, and their SHA-256 (the ZIP writer's WrittenFile). */
export interface ArchiveFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface ManifestFile extends ArchiveFile {
  format: 'json' | 'csv';
}

export interface EntityManifest {
  rows: number;
  files: ManifestFile[];
}

/** What became of one of the user's files. */
export type FileOutcome = 'included' | 'missing' | 'too_large' | 'failed';

export interface UserFileRecord {
  /** Where the file is in the archive (for one not included: where it would have been). */
  path: string;
  entity: string;
  outcome: FileOutcome;
  /** included: its bytes in the archive; too_large: its size at the source. */
  bytes?: number;
  sha256?: string;
  /** Why it is not included, in plain words. */
  reason?: string;
}

/** The offline viewer's part of the manifest. */
export interface ViewerManifest {
  index: 'index.html';
  rows_per_entity_at_most: number;
  files: ArchiveFile[];
}

/** manifest.json: what the archive holds, and how to check it. Keys are snake_case like the data. */
export interface Manifest {
  /** The archive's layout (ARCHIVE_FORMAT). */
  format: typeof ARCHIVE_FORMAT;
  request_id: string;
  user_id: string;
  /** The moment of the database snapshot every file was read from. */
  as_of: string;
  link_expires_at: string;
  exporter_version: string;
  schema_version: string;
  entities: Record<string, EntityManifest>;
  /** The offline viewer (index.html), where the archive has one. */
  viewer?: ViewerManifest;
  /** GDPR Art. 15(1) per entity (snake_case keys, as in the definition), where the definition gives it. */
  processing?: Record<string, Record<string, string | readonly string[]>>;
  /** How many of the user's files ended each way. */
  file_counts: Record<FileOutcome, number>;
  /** Every one of the user's files, with what became of it: none is left out silently. */
  files: UserFileRecord[];
}
