import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/**
 * Rows for a real application's tables, whose every NOT NULL column without
 * a default a test would otherwise have to spell out: `insertRow` fills each
 * one the values leave out with a value of its type (text unique by a random
 * suffix, a number, now, false, the first label of an enum, an empty array or
 * object), and returns the row as inserted. Foreign keys are the test's to
 * give. For the published schemas' tests (test/fixtures/schemas/).
 */
export async function insertRow(
  db: pg.Pool | pg.PoolClient,
  table: string,
  values: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { rows: columns } = await db.query<{ name: string; type: string; enumLabel: string | null; category: string }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, t.typcategory as category,
            (select e.enumlabel from pg_enum e where e.enumtypid = coalesce(nullif(t.typbasetype, 0), t.oid) order by e.enumsortorder limit 1) as "enumLabel"
       from pg_attribute a join pg_type t on t.oid = a.atttypid
      where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped and a.attnotnull and not a.atthasdef
        and a.attidentity = '' and a.attgenerated = ''`,
    [table],
  );
  const filled: Record<string, unknown> = { ...values };
  for (const c of columns) if (!(c.name in filled)) filled[c.name] = fillerFor(c);
  const names = Object.keys(filled);
  const sql = `insert into ${table} (${names.map((n) => `"${n.replaceAll('"', '""')}"`).join(', ')}) values (${names.map((_, i) => `$${i + 1}`).join(', ')}) returning *`;
  const { rows } = await db.query(
    sql,
    names.map((n) => filled[n]),
  );
  return rows[0]!;
}

/** A value of a column's type that any check short of a foreign key takes. */
function fillerFor(c: { name: string; type: string; enumLabel: string | null; category: string }): unknown {
  if (c.enumLabel !== null) return c.enumLabel;
  if (c.category === 'A') return '{}';
  const type = c.type.replace(/\(.*\)/, '');
  if (/^(smallint|integer|bigint|numeric|real|double precision)/.test(type)) return 0;
  if (type === 'boolean') return false;
  if (type.startsWith('timestamp') || type === 'date') return new Date().toISOString();
  if (type.startsWith('time')) return '12:00';
  if (type === 'uuid') return randomUUID();
  if (type === 'json' || type === 'jsonb') return '{}';
  if (type === 'bytea') return Buffer.from('x');
  if (type === 'inet') return '127.0.0.1';
  if (type === 'interval') return '0';
  // Text of any kind, unique where a unique index asks for it.
  return `${c.name}-${randomUUID().slice(0, 8)}`;
}
