import {
  ARCHIVE_FORMAT,
  type EntityManifest,
  type FileOutcome,
  type Manifest,
  type UserFileRecord,
  type ViewerManifest,
} from '../model/archive.ts';
import type { WrittenFile, ZipWriter } from '../zip/zip-writer.ts';

export function buildManifest(input: {
  requestId: string;
  userId: string;
  asOf: string;
  linkExpiresAt: Date;
  exporterVersion: string;
  schemaVersion: string;
  entities: Record<string, EntityManifest>;
  files: UserFileRecord[];
  viewer?: ViewerManifest;
  processing?: Manifest['processing'];
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
    ...(input.viewer ? { viewer: input.viewer } : {}),
    ...(input.processing ? { processing: input.processing } : {}),
    file_counts: counts,
    files: input.files,
  };
}

/** Rows per entity, as stored on the request. */
export function rowCounts(manifest: Manifest): Record<string, number> {
  return Object.fromEntries(Object.entries(manifest.entities).map(([name, e]) => [name, e.rows]));
}

/** The pieces the file list is written in. */
const PIECE_CHARS = 256 * 1024;

/**
 * manifest.json: byte for byte `JSON.stringify(manifest, null, 2)` and a
 * line break, written in pieces. The file list of a user with a million
 * files is a quarter of a gigabyte of text; made whole, it and its bytes
 * were held twice over at the end of the build.
 */
export async function writeManifest(zip: ZipWriter, manifest: Manifest): Promise<WrittenFile> {
  const entry = zip.openEntry('manifest.json');
  // `files` is the last key: without its items the text ends `"files": []` and the closing brace.
  const head = JSON.stringify({ ...manifest, files: [] }, null, 2);
  if (manifest.files.length === 0) {
    await entry.write(Buffer.from(`${head}\n`));
  } else {
    let piece = head.slice(0, -']\n}'.length);
    for (const [i, file] of manifest.files.entries()) {
      piece += `${i === 0 ? '\n' : ',\n'}    ${JSON.stringify(file, null, 2).replaceAll('\n', '\n    ')}`;
      if (piece.length >= PIECE_CHARS) {
        await entry.write(Buffer.from(piece));
        piece = '';
      }
    }
    await entry.write(Buffer.from(`${piece}\n  ]\n}\n`));
  }
  const written = entry.end();
  await zip.drained();
  return written;
}
