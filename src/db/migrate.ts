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

/** Applies every pending migration; running it again applies nothing. */
export async function migrateToLatest(db: Db, folder?: string): Promise<MigrateResult> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(folder) });
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

/** The newest applied migration, or null when the exporter's schema is not there yet. */
export async function currentSchemaVersion(db: Db): Promise<string | null> {
  const exists = await sql<{ t: string | null }>`select to_regclass('kysely_migration')::text as t`.execute(db);
  if (!exists.rows[0]?.t) return null;
  const { rows } = await sql<{ name: string | null }>`select max(name) as name from kysely_migration`.execute(db);
  return rows[0]?.name ?? null;
}
