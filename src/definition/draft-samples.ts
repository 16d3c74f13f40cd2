import { sql } from 'kysely';
import type { Db } from '../db/connect.ts';
import { TEXT_TYPES } from '../model/database-types.ts';
import { quoteIdent } from '../model/identifiers.ts';
import { type CatalogColumn, type CatalogTable, comparableTypes } from './catalog.ts';

/**
 * What `exporter init` and `exporter check` learn from a table's values,
 * never its schema alone: a sample of each text column (do they look like
 * password hashes or tokens?), and, for a column that could hold a user id,
 * how many of its sampled values are ids of existing users (a chat server's
 * `sender` holds `@alice:example.org` with no foreign key to say so). Read
 * from a table's first rows; values stay in memory and are never printed.
 */

/** Per table key, per column: up to SAMPLE_VALUES of its non-null values, as text. */
export type ValueSamples = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

/** Per table key, per column: of its sampled values, how many name an existing user, and how many there were. */
export type UserIdMatches = ReadonlyMap<string, ReadonlyMap<string, { users: number; of: number }>>;

const SAMPLE_ROWS = 200;
const SAMPLE_VALUES = 50;
/** A value is looked at up to this many characters (a password hash or a token is shorter). */
const VALUE_CHARS = 4096;

/** Whether a column holds text a credential could be in (text, varchar, char, citext). */
export function isTextLike(column: CatalogColumn): boolean {
  return TEXT_TYPES.has(column.type) || column.sqlType === 'citext';
}

/** Whether a column holds JSON (whose keys and strings may hold a credential: secrets.ts). */
export function isJson(column: CatalogColumn): boolean {
  return column.type === 'json' || column.type === 'jsonb';
}

/** A sample of the text and JSON columns of each table (only those given, when `columnsOf` says which). */
export async function sampleTextValues(
  db: Db,
  tables: readonly CatalogTable[],
  columnsOf?: (table: CatalogTable) => readonly string[],
): Promise<ValueSamples> {
  const samples = new Map<string, Map<string, string[]>>();
  for (const table of tables) {
    const columns = (columnsOf ? columnsOf(table) : [...table.columns.keys()]).filter((c) => {
      const live = table.columns.get(c);
      return live !== undefined && (isTextLike(live) || isJson(live));
    });
    if (columns.length === 0) continue;
    const list = columns.map((c, i) => `left(${quoteIdent(c)}::text, ${VALUE_CHARS}) as c${i}`).join(', ');
    const { rows } = await sql<
      Record<string, string | null>
    >`${sql.raw(`select ${list} from ${table.key} limit ${SAMPLE_ROWS}`)}`.execute(db);
    const byColumn = new Map<string, string[]>();
    for (const [i, column] of columns.entries()) {
      const values = rows
        .map((r) => r[`c${i}`])
        .filter((v): v is string => v !== null && v !== '')
        .slice(0, SAMPLE_VALUES);
      byColumn.set(column, values);
    }
    samples.set(table.key, byColumn);
  }
  return samples;
}

/**
 * For a text user key (ids such as `@alice:example.org`, which other tables
 * name in text columns, often with no foreign key): for each text column of
 * each table, how many of its sampled values are ids of existing users,
 * compared as text on the key's own index. Nothing for other key types, whose
 * columns a name and a type tell apart well enough.
 */
export async function matchUserIds(
  db: Db,
  tables: readonly CatalogTable[],
  users: CatalogTable,
  userKey: string,
): Promise<UserIdMatches> {
  const key = users.columns.get(userKey)!;
  const matches = new Map<string, Map<string, { users: number; of: number }>>();
  if (!isTextLike(key)) return matches;
  for (const table of tables) {
    if (table.key === users.key) continue;
    const columns = [...table.columns.entries()]
      .filter(([, c]) => isTextLike(c) && comparableTypes(c, key))
      .map(([name]) => name);
    if (columns.length === 0) continue;
    const byColumn = new Map<string, { users: number; of: number }>();
    for (const column of columns) {
      const { rows } = await sql<{ users: number; of: number }>`${sql.raw(
        `select count(*) filter (where exists (select 1 from ${users.key} u where u.${quoteIdent(userKey)} = s.v))::int as users, count(*)::int as of
           from (select ${quoteIdent(column)}::text as v from ${table.key} where ${quoteIdent(column)} is not null limit ${SAMPLE_VALUES}) s`,
      )}`.execute(db);
      byColumn.set(column, rows[0]!);
    }
    matches.set(table.key, byColumn);
  }
  return matches;
}
