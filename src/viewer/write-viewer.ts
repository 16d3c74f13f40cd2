import { readFileSync } from 'node:fs';
import { PROCESSING_FIELDS } from '../definition/definition.ts';
import type { ExportEntity } from '../export/entities.ts';
import type { Manifest } from '../export/manifest.ts';
import type { UserFileRecord } from '../export/file-entry.ts';
import { type PreparedEntry, prepareEntry, type WrittenFile, type ZipWriter } from '../zip/zip-writer.ts';
import { ViewerRows } from './viewer-rows.ts';

/** An entity with at most this many bytes of rows for the page shares a data file with others… */
const SHARED_ENTITY_BYTES = 64 * 1024;
/** …of at most about this many characters. */
const SHARED_FILE_CHARS = 1024 * 1024;

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
/** The same files, deflated once per zlib level: every archive holds them as they are. */
const prepared = new Map<number, Map<string, PreparedEntry>>();

function staticAssets(): Map<string, Buffer> {
  assets ??= new Map(ASSETS.map((name) => [name === 'index.html' ? name : `viewer/${name}`, readFileSync(new URL(name, ASSETS_DIR))]));
  return assets;
}

function preparedAssets(level: number): Map<string, PreparedEntry> {
  const kind = level > 0 ? 1 : 0;
  if (!prepared.has(kind)) prepared.set(kind, new Map([...staticAssets()].map(([path, bytes]) => [path, prepareEntry(bytes, level)])));
  return prepared.get(kind)!;
}

/** viewer/entities.js for an entity list (the same for every archive a process builds), deflated once. */
const preparedDefinitions = new WeakMap<readonly ExportEntity[], Map<number, PreparedEntry>>();

function preparedEntities(entities: readonly ExportEntity[], level: number): PreparedEntry {
  const byLevel = preparedDefinitions.get(entities) ?? new Map<number, PreparedEntry>();
  preparedDefinitions.set(entities, byLevel);
  const kind = level > 0 ? 1 : 0;
  if (!byLevel.has(kind)) byLevel.set(kind, prepareEntry(Buffer.from(`exporterViewer.entities(${JSON.stringify(entities.map(entityForPage))});\n`), level));
  return byLevel.get(kind)!;
}

/** What the definition says of an entity, for the page: its description, columns, label, key, references and Art. 15 information. */
function entityForPage(e: ExportEntity) {
  return {
    name: e.name,
    description: e.description,
    label: e.label ?? null,
    key: e.key ?? null,
    references: e.references ?? [],
    columns: e.columns.map((c) => ({ name: c.name, description: c.description, kind: c.kind, file: c.fileLocator !== undefined })),
    processing: e.processing ? PROCESSING_FIELDS.filter((f) => e.processing![f.key] !== undefined).map((f) => ({ field: f.yaml, value: e.processing![f.key] })) : [],
  };
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
  /** Each entity's data file: its own, or one it shares with other small entities. */
  private readonly dataFile = new Map<string, string>();
  private readonly written: WrittenFile[] = [];
  /** Small entities' scripts, gathered into one file (a light export has one data file, not one per entity). */
  private shared: { path: string; text: string } | undefined;
  private sharedFiles = 0;

  constructor(maxRows: number) {
    this.maxRows = maxRows;
  }

  rowsFor(): ViewerRows {
    return new ViewerRows(this.maxRows);
  }

  /** After the entity's JSON and CSV: its rows for the page, in a file of its own or, when few, gathered with other entities' rows. */
  async addEntity(zip: ZipWriter, entity: ExportEntity, rows: ViewerRows): Promise<void> {
    this.shown.set(entity.name, rows.rows);
    if (rows.bytes <= SHARED_ENTITY_BYTES) {
      if (this.shared && this.shared.text.length + rows.bytes > SHARED_FILE_CHARS) await this.writeShared(zip);
      this.shared ??= { path: `viewer/data/rows-${++this.sharedFiles}.js`, text: '' };
      for (const piece of rows.script(entity.name)) this.shared.text += piece;
      this.dataFile.set(entity.name, this.shared.path);
      return;
    }
    const path = `viewer/data/${entity.name}.js`;
    const entry = zip.openEntry(path);
    for (const piece of rows.script(entity.name)) await entry.write(Buffer.from(piece));
    this.written.push(entry.end());
    await zip.drained();
    this.dataFile.set(entity.name, path);
  }

  private async writeShared(zip: ZipWriter): Promise<void> {
    if (!this.shared) return;
    this.written.push(await zip.addText(this.shared.path, this.shared.text));
    this.shared = undefined;
  }

  /** The overview, the file list, and the page with its code; what manifest.json says of them. */
  async finish(zip: ZipWriter, manifest: Manifest, entities: readonly ExportEntity[]): Promise<ViewerManifest> {
    // The last small entities' rows ride in the overview's own file, before it: a light export has one data file in all.
    const inOverview = this.shared?.text ?? '';
    for (const [entity, path] of this.dataFile) if (this.shared && path === this.shared.path) this.dataFile.delete(entity);
    this.shared = undefined;
    const listed = filesShown(manifest.files, this.maxRows);
    if (manifest.files.length > 0) this.written.push(await zip.addText('viewer/data/files.js', `exporterViewer.files(${JSON.stringify(listed)});\n`));
    // What varies by archive; what the definition says of each entity is viewer/entities.js, made once.
    const overview = {
      request_id: manifest.request_id,
      user_id: manifest.user_id,
      as_of: manifest.as_of,
      link_expires_at: manifest.link_expires_at,
      exporter_version: manifest.exporter_version,
      rows_per_entity_at_most: this.maxRows,
      entities: entities.map((e) => ({
        name: e.name,
        rows: manifest.entities[e.name]?.rows ?? 0,
        shown: this.shown.get(e.name) ?? 0,
        // null: its rows are in viewer/archive.js itself.
        data: this.dataFile.get(e.name) ?? null,
        files: (manifest.entities[e.name]?.files ?? []).map((f) => f.path),
      })),
      file_counts: manifest.file_counts,
      files_listed: listed.length,
      files_data: manifest.files.length > 0 ? 'viewer/data/files.js' : null,
    };
    this.written.push(await zip.addText('viewer/archive.js', `${inOverview}exporterViewer.archive(${JSON.stringify(overview)});\n`));
    for (const [path, entry] of preparedAssets(zip.level)) this.written.push(await zip.addPrepared(path, entry));
    this.written.push(await zip.addPrepared('viewer/entities.js', preparedEntities(entities, zip.level)));
    return { index: 'index.html', rows_per_entity_at_most: this.maxRows, files: this.written };
  }
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
