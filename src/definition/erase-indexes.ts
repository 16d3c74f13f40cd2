import type { Definition } from '../model/definition.ts';
import { type Catalog, type CatalogTable, findTable, refOf } from './catalog.ts';

/**
 * Advice, not a refusal: where an erasure deletes rows (erase: delete) that
 * another table's foreign key points at, PostgreSQL looks that table up by
 * the key for every row deleted (to refuse, cascade or set null). With no
 * index to do it, each lookup scans the whole table: bench:erasure's
 * million-row person took 1,245 s that way and 16 s with the index
 * (BENCHMARKS.md). The application's own schema is the application's to
 * change, so `check` says so and erasures still run.
 */
export function unindexedForeignKeys(def: Definition, catalog: Catalog, at: (line: number) => string): string[] {
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const e of def.entities) {
    if (e.erase?.kind !== 'delete') continue;
    const deleted = findTable(catalog, e.table);
    if (!deleted) continue;
    for (const f of catalog.foreignKeys) {
      if (f.refTable !== deleted.key) continue;
      const referencing = catalog.tables.get(f.table);
      const id = `${f.table}(${f.columns.join(',')})`;
      if (!referencing || seen.has(id) || indexedBy(referencing, f.columns)) continue;
      seen.add(id);
      const columns = f.columns.join(', ');
      warnings.push(
        `${refOf(catalog, referencing)}.${columns}: an erasure deletes ${e.table} rows, and PostgreSQL looks up ${refOf(catalog, referencing)} by this foreign key for each one, with no index to do it (every row deleted scans the table): create index on ${refOf(catalog, referencing)} (${columns}) ${at(e.erase.line)}`,
      );
    }
  }
  return warnings;
}

/** Whether an index's leading columns are exactly `columns`, in any order: an equality lookup on all of them uses it. */
function indexedBy(table: CatalogTable, columns: readonly string[]): boolean {
  return table.indexes.some(
    (index) => index.length >= columns.length && columns.every((c) => index.slice(0, columns.length).includes(c)),
  );
}
