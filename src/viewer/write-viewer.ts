import { readFileSync } from 'node:fs';
import type { ExportEntity } from '../export/entities.ts';
import type { Manifest } from '../export/manifest.ts';
import type { UserFileRecord } from '../export/file-entry.ts';
import type { WrittenFile, ZipWriter } from '../zip/zip-writer.ts';
import { ViewerRows } from './viewer-rows.ts';

/** What manifest.json says of the viewer: where to start, its bound, and its files with their checksums. */
export interface ViewerManifest {
  index: 'index.html';
  rows_per_entity_at_most: number;
  files: WrittenFile[];
}

/**
 * The page and its code, as shipped in viewer/ beside src/ (and dist/ in the
 * image): index.html at the archive's root, the rest under viewer/. Read
 * once per process.
 */
const ASSETS = ['index.html', 'viewer.js', 'viewer.css', 'words.js'] as const;
const ASSETS_DIR = new URL('../../viewer/', import.meta.url);
let assets: Map<string, Buffer> | undefined;

function staticAssets(): Map<string, Buffer> {
  assets ??= new Map(ASSETS.map((name) => [name === 'index.html' ? name : `viewer/${name}`, readFileSync(new URL(name, ASSETS_DIR))]));
  return assets;
}

/** Bytes of the viewer's own code, styles and page (the bound: 150 KiB). */
export function viewerCodeBytes(): number {
  return [...staticAssets().values()].reduce((sum, b) => sum + b.length, 0);
}

/**
 * The offline viewer of one archive (README: the viewer). Each entity's first
 * rows are taken from its JSON as it is written (ViewerRows) and written as
 * viewer/data/<entity>.js right after its files; at the end, the overview
 * (viewer/archive.js), the list of the user's files (viewer/data/files.js),
 * the page and its code. Browsers refuse fetch() of a local file, so the data
 * is in scripts that hand it to the page; the JSON and CSV are untouched.
 */
export class ArchiveViewer {
  private readonly maxRows: number;
  private readonly shown = new Map<string, number>();
  private readonly written: WrittenFile[] = [];

  constructor(maxRows: number) {
    this.maxRows = maxRows;
  }

  rowsFor(): ViewerRows {
    return new ViewerRows(this.maxRows);
  }

  /** After the entity's JSON and CSV: its rows for the page. */
  async addEntity(zip: ZipWriter, entity: ExportEntity, rows: ViewerRows): Promise<void> {
    const path = dataPath(entity.name);
    this.written.push(await rows.write(zip, path, entity.name));
    this.shown.set(entity.name, rows.rows);
  }

  /** The overview, the file list, and the page with its code; what manifest.json says of them. */
  async finish(zip: ZipWriter, manifest: Manifest, entities: readonly ExportEntity[]): Promise<ViewerManifest> {
    const listed = filesShown(manifest.files, this.maxRows);
    if (manifest.files.length > 0) this.written.push(await zip.addText('viewer/data/files.js', `exporterViewer.files(${JSON.stringify(listed)});\n`));
    const overview = {
      request_id: manifest.request_id,
      user_id: manifest.user_id,
      as_of: manifest.as_of,
      link_expires_at: manifest.link_expires_at,
      exporter_version: manifest.exporter_version,
      rows_per_entity_at_most: this.maxRows,
      entities: entities.map((e) => ({
        name: e.name,
        description: e.description,
        rows: manifest.entities[e.name]?.rows ?? 0,
        shown: this.shown.get(e.name) ?? 0,
        data: dataPath(e.name),
        files: (manifest.entities[e.name]?.files ?? []).map((f) => f.path),
        label: e.label ?? null,
        key: e.key ?? null,
        references: e.references ?? [],
        columns: e.columns.map((c) => ({ name: c.name, description: c.description, kind: c.kind, file: c.fileLocator !== undefined })),
      })),
      file_counts: manifest.file_counts,
      files_listed: listed.length,
      files_data: manifest.files.length > 0 ? 'viewer/data/files.js' : null,
    };
    this.written.push(await zip.addText('viewer/archive.js', `exporterViewer.archive(${JSON.stringify(overview)});\n`));
    for (const [path, bytes] of staticAssets()) {
      const entry = zip.openEntry(path);
      await entry.write(bytes);
      this.written.push(entry.end());
      await zip.drained();
    }
    return { index: 'index.html', rows_per_entity_at_most: this.maxRows, files: this.written };
  }
}

function dataPath(entity: string): string {
  return `viewer/data/${entity}.js`;
}

/** The user's files for the page: at most `perEntity` of each entity's (manifest.json lists every one). */
function filesShown(files: readonly UserFileRecord[], perEntity: number): UserFileRecord[] {
  const counts = new Map<string, number>();
  return files.filter((f) => {
    const n = (counts.get(f.entity) ?? 0) + 1;
    counts.set(f.entity, n);
    return n <= perEntity;
  });
}
