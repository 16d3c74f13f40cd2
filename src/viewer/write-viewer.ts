import { readFileSync } from 'node:fs';
import type { Manifest, UserFileRecord, ViewerManifest } from '../model/archive.ts';
import { PROCESSING_FIELDS } from '../model/definition.ts';
import type { ExportEntity } from '../model/entities.ts';
import { type PreparedEntry, prepareEntry, type WrittenFile, type ZipWriter } from '../zip/zip-writer.ts';
import { newArchiveKey, type Section, sealedScript } from './seal.ts';
import { ViewerRows } from './viewer-rows.ts';

/** An entity with at most this many bytes of rows for the page shares a data file with others… */
const SHARED_ENTITY_BYTES = 64 * 1024;
/** …of at most about this many bytes. */
const SHARED_FILE_BYTES = 1024 * 1024;

/** What manifest.json says of the viewer: where to start, its bound, and its files with their checksums. */
/**
 * The page and its code, as shipped in viewer/ beside src/ (and dist/ in the
 * image): index.html at the archive's root, the rest under viewer/. Read
 * once per process. index.html differs by archive (it holds the key that
 * opens the archive's data, seal.ts); the rest is the same in every archive.
 * The scripts are those index.html loads, in its order (viewer/dom.js: why
 * several classic scripts).
 */
const ASSETS = [
  'index.html',
  'viewer.css',
  'data.css',
  'words.js',
  'dom.js',
  'links.js',
  'store.js',
  'sealed-data.js',
  'file-view.js',
  'values.js',
  'pager.js',
  'table.js',
  'entity-pages.js',
  'files-page.js',
  'overview.js',
  'routing.js',
  'start.js',
] as const;
const ASSETS_DIR = new URL('../../viewer/', import.meta.url);
let assets: Map<string, Buffer> | undefined;
/** The same files but index.html, deflated once per zlib level: every archive holds them as they are. */
const prepared = new Map<number, Map<string, PreparedEntry>>();
/** Where index.html carries the archive's key: the page reads it there, and only there. */
const KEY_META = '<meta name="exporter-archive-key" content="">';

function staticAssets(): Map<string, Buffer> {
  assets ??= new Map(
    ASSETS.map((name) => [name === 'index.html' ? name : `viewer/${name}`, readFileSync(new URL(name, ASSETS_DIR))]),
  );
  return assets;
}

function preparedAssets(level: number): Map<string, PreparedEntry> {
  const kind = level > 0 ? 1 : 0;
  if (!prepared.has(kind)) {
    prepared.set(
      kind,
      new Map(
        [...staticAssets()]
          .filter(([path]) => path !== 'index.html')
          .map(([path, bytes]) => [path, prepareEntry(bytes, level)]),
      ),
    );
  }
  return prepared.get(kind)!;
}

/** index.html with this archive's key in its `<meta>`. */
function indexWithKey(key: Buffer): string {
  const page = staticAssets().get('index.html')!.toString('utf8');
  if (!page.includes(KEY_META)) throw new Error(`viewer/index.html lacks ${KEY_META}`);
  return page.replace(KEY_META, `<meta name="exporter-archive-key" content="${key.toString('base64')}">`);
}

/** viewer/entities.js for an entity list (the same for every archive a process builds), deflated once. */
const preparedDefinitions = new WeakMap<readonly ExportEntity[], Map<number, PreparedEntry>>();

function preparedEntities(entities: readonly ExportEntity[], level: number): PreparedEntry {
  const byLevel = preparedDefinitions.get(entities) ?? new Map<number, PreparedEntry>();
  preparedDefinitions.set(entities, byLevel);
  const kind = level > 0 ? 1 : 0;
  if (!byLevel.has(kind))
    byLevel.set(
      kind,
      prepareEntry(Buffer.from(`exporterViewer.entities(${JSON.stringify(entities.map(entityForPage))});\n`), level),
    );
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
    columns: e.columns.map((c) => ({
      name: c.name,
      description: c.description,
      kind: c.kind,
      file: c.fileLocator !== undefined,
    })),
    processing: e.processing
      ? PROCESSING_FIELDS.filter((f) => e.processing![f.key] !== undefined).map((f) => ({
          field: f.yaml,
          value: e.processing![f.key],
        }))
      : [],
  };
}

/** Bytes of the viewer's own code, styles and page (the bound: 150 KiB). */
export function viewerCodeBytes(): number {
  return [...staticAssets().values()].reduce((sum, b) => sum + b.length, 0);
}

/**
 * The offline viewer of one archive (docs/archive.md: the viewer). Each entity's first
 * rows are taken from its JSON as it is written (ViewerRows) and written as a
 * data script right after its files, or gathered with other small entities'
 * rows; at the end, the overview (viewer/archive.js), the list of the user's
 * files (viewer/data/files.js), the page and its code. Browsers refuse
 * fetch() of a local file, so the data is in scripts that hand it to the page,
 * sealed under a key only this archive's index.html holds (seal.ts); the
 * JSON and CSV are untouched. Data scripts are numbered
 * (viewer/data/1.js, …): no entity's name, whatever the definition allows,
 * can be the name of another file of the viewer.
 */
export class ArchiveViewer {
  private readonly maxRows: number;
  private readonly key: Buffer = newArchiveKey();
  private readonly shown = new Map<string, number>();
  /** Each entity's data file: its own, or one it shares with other small entities. */
  private readonly dataFile = new Map<string, string>();
  private readonly written: WrittenFile[] = [];
  /** Small entities' rows, gathered into one file (a light export has one data file, not one per entity). */
  private shared: { path: string; sections: Section[]; bytes: number } | undefined;
  private dataFiles = 0;

  constructor(maxRows: number) {
    this.maxRows = maxRows;
  }

  rowsFor(): ViewerRows {
    return new ViewerRows(this.maxRows);
  }

  /** After the entity's JSON and CSV: its rows for the page, in a file of its own or, when few, gathered with other entities' rows. */
  async addEntity(zip: ZipWriter, entity: ExportEntity, rows: ViewerRows): Promise<void> {
    this.shown.set(entity.name, rows.rows);
    const header = { kind: 'rows', entity: entity.name } as const;
    if (rows.bytes <= SHARED_ENTITY_BYTES) {
      if (this.shared && this.shared.bytes + rows.bytes > SHARED_FILE_BYTES) await this.writeShared(zip);
      this.shared ??= { path: this.nextDataFile(), sections: [], bytes: 0 };
      // A copy of its few bytes: the slab they were held in is 256 KiB.
      const body = Buffer.concat(rows.handOver());
      this.shared.sections.push({ header, body: [body] });
      this.shared.bytes += body.length;
      this.dataFile.set(entity.name, this.shared.path);
      return;
    }
    const path = this.nextDataFile();
    await this.writeSealed(zip, path, [{ header, body: rows.handOver() }]);
    this.dataFile.set(entity.name, path);
  }

  private nextDataFile(): string {
    return `viewer/data/${++this.dataFiles}.js`;
  }

  private async writeShared(zip: ZipWriter): Promise<void> {
    if (!this.shared) return;
    await this.writeSealed(zip, this.shared.path, this.shared.sections);
    this.shared = undefined;
  }

  private async writeSealed(zip: ZipWriter, path: string, sections: readonly Section[]): Promise<void> {
    const entry = zip.openEntry(path);
    for await (const piece of sealedScript(this.key, sections, zip.level)) await entry.write(piece);
    this.written.push(entry.end());
    await zip.drained();
  }

  /** The overview, the file list, and the page with its code; what manifest.json says of them. */
  async finish(zip: ZipWriter, manifest: Manifest, entities: readonly ExportEntity[]): Promise<ViewerManifest> {
    // The last small entities' rows ride in the overview's own file, before it: a light export has one data file in all.
    const inOverview = this.shared?.sections ?? [];
    for (const [entity, path] of this.dataFile)
      if (this.shared && path === this.shared.path) this.dataFile.delete(entity);
    this.shared = undefined;
    const listed = filesShown(manifest.files, this.maxRows);
    const json = (value: unknown) => [Buffer.from(JSON.stringify(value))];
    if (manifest.files.length > 0)
      await this.writeSealed(zip, FILES_DATA, [{ header: { kind: 'files' }, body: json(listed) }]);
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
      files_data: manifest.files.length > 0 ? FILES_DATA : null,
    };
    await this.writeSealed(zip, 'viewer/archive.js', [
      ...inOverview,
      { header: { kind: 'archive' }, body: json(overview) },
    ]);
    this.written.push(await zip.addText('index.html', indexWithKey(this.key)));
    for (const [path, entry] of preparedAssets(zip.level)) this.written.push(await zip.addPrepared(path, entry));
    this.written.push(await zip.addPrepared('viewer/entities.js', preparedEntities(entities, zip.level)));
    return { index: 'index.html', rows_per_entity_at_most: this.maxRows, files: this.written };
  }
}

/** The list of the user's files, for the page. */
const FILES_DATA = 'viewer/data/files.js';

/** The user's files for the page: at most `perEntity` of each entity's (manifest.json lists every one). */
function filesShown(files: readonly UserFileRecord[], perEntity: number): UserFileRecord[] {
  const counts = new Map<string, number>();
  return files.filter((f) => {
    const n = (counts.get(f.entity) ?? 0) + 1;
    counts.set(f.entity, n);
    return n <= perEntity;
  });
}
