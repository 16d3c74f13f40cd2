import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import type { Db } from './connect.ts';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

/** Reads the numbered plain-SQL files in sql/ as Kysely migrations (up only). */
export class SqlFileMigrationProvider implements MigrationProvider {
  private readonly folder: string;
  constructor(folder: string = SQL_DIR) {
    this.folder = folder;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.folder)).filter((f) => /^\d+.*\.sql$/.test(f)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(path.join(this.folder, file), 'utf8');
      migrations[file.replace(/\.sql$/, '')] = {
        async up(db) {
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}

export interface MigrateResult {
  applied: string[];
  /** The newest migration in the database afterwards: the schema version. */
  schemaVersion: string | null;
}

/**
 * Where the applied migrations are recorded: tables of the exporter's own name, never
 * Kysely's defaults (kysely_migration), which an application using Kysely has already.
 */
const MIGRATION_TABLE = 'data_export_migration';
const MIGRATION_LOCK_TABLE = 'data_export_migration_lock';
/** Where an exporter before 0.2 recorded them. */
const LEGACY_TABLE = 'kysely_migration';

/** Applies every pending migration; running it again applies nothing. */
export async function migrateToLatest(db: Db, folder?: string): Promise<MigrateResult> {
  const provider = new SqlFileMigrationProvider(folder);
  await adoptLegacyRecord(db, Object.keys(await provider.getMigrations()));
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new Error(`migration failed: ${errorMessage(error)}`, { cause: error });
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  const all = await migrator.getMigrations();
  const executed = all.filter((m) => m.executedAt !== undefined);
  return { applied, schemaVersion: executed.at(-1)?.name ?? null };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * An exporter before 0.2 recorded its migrations in kysely_migration. Its rows (the names
 * of sql/'s files, and only those) move to data_export_migration, once, in one
 * transaction: the whole table where every row is the exporter's, else just those rows
 * (an application using Kysely keeps its own table and rows).
 */
async function adoptLegacyRecord(db: Db, ours: readonly string[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ current: string | null; legacy: string | null }>`
      select to_regclass(${MIGRATION_TABLE})::text as current, to_regclass(${LEGACY_TABLE})::text as legacy`.execute(
      tx,
    );
    if (rows[0]!.current || !rows[0]!.legacy) return;
    const { rows: names } = await sql<{ name: string }>`select name from kysely_migration`.execute(tx);
    const mine = names.filter((r) => ours.includes(r.name));
    if (mine.length === 0) return;
    if (mine.length === names.length) {
      await sql`alter table kysely_migration rename to data_export_migration`.execute(tx);
      await sql`alter table if exists kysely_migration_lock rename to data_export_migration_lock`.execute(tx);
      return;
    }
    await sql`create table data_export_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)`.execute(
      tx,
    );
    await sql`insert into data_export_migration select name, timestamp from kysely_migration where name = any(${mine.map((r) => r.name)}::text[])`.execute(
      tx,
    );
    await sql`delete from kysely_migration where name = any(${mine.map((r) => r.name)}::text[])`.execute(tx);
  });
}

/** The newest applied migration, or null when the exporter's schema is not there yet (read where an older exporter recorded it, until migrate moves it). */
export async function currentSchemaVersion(db: Db): Promise<string | null> {
  const { rows: tables } = await sql<{ current: string | null; legacy: string | null }>`
    select to_regclass(${MIGRATION_TABLE})::text as current, to_regclass(${LEGACY_TABLE})::text as legacy`.execute(db);
  if (tables[0]!.current) {
    const { rows } = await sql<{ name: string | null }>`select max(name) as name from data_export_migration`.execute(
      db,
    );
    return rows[0]?.name ?? null;
  }
  if (!tables[0]!.legacy) return null;
  // An exporter's names are sql/'s files: six digits and a word; an application's own Kysely rows are not read.
  const { rows } = await sql<{ name: string | null }>`
    select max(name) as name from kysely_migration where name ~ '^[0-9]{6}_'`.execute(db);
  return rows[0]?.name ?? null;
}
