import type { DeletedWith, ErasedColumn, ErasedFiles, ErasureEntity } from '../model/erasure.ts';
import { quoteIdent as q } from '../model/identifiers.ts';

/*
 * The SQL of one entity's erasure, as text with numbered parameters: $1 is
 * always the person's key (as text, cast to the key's type where the plan
 * says :user). Nothing a user wrote is ever part of the text; the HMAC pads
 * (of the person's own key, run-erasure.ts personKey), the ghost's key and a
 * fixed text are parameters, never literals: pg_stat_activity never shows
 * them, and a server that logs parameters shows one person's key at most.
 */

/** A statement and its parameters (after $1, the person's key). */
export interface Statement {
  text: string;
  /** Parameters after $1, in order ($2, $3, …). */
  params: unknown[];
}

/** The parameters every statement of an erasure may use: the ghost's key and the HMAC pads, where needed. */
export interface ErasureSecrets {
  ghostUser?: string;
  /** HMAC-SHA256's inner and outer pads of EXPORT_ERASE_HMAC_KEY (64 bytes each). */
  hmac?: { inner: Buffer; outer: Buffer };
}

const withUser = (sql: string) => sql.replaceAll(':user', '$1');

/** How many rows of `where` there are. */
export function countSql(table: string, where: string): string {
  return `select count(*)::bigint as n from ${table} t where ${withUser(where)}`;
}

/**
 * Deletes at most `batch` rows of `where` (one short statement; run again
 * until it deletes none), returning the `returning` columns of each, as text.
 * The rows are found by ctid (a TID scan, however big the table), and each
 * row deleted must be in `where` itself: a ctid is unique only within one
 * table, so in a partitioned (or inherited) table another partition's row
 * has the same one, and it is someone else's.
 */
export function deleteBatchSql(table: string, where: string, batch: number, returning: readonly string[] = []): string {
  return `delete from ${table} t where t.ctid = any(array(select t.ctid from ${table} t where ${withUser(where)} limit ${batch}))
     and ${withUser(where)}${returningSql(returning)}`;
}

function returningSql(columns: readonly string[]): string {
  return columns.length === 0 ? '' : ` returning ${columns.map((c) => `${q(c)}::text as ${q(c)}`).join(', ')}`;
}

/**
 * The rows of `w` the parent's deleted rows pointed at ($2: their `refs`,
 * as a JSON array of arrays of text), where no row of the parent points at
 * them still (another person's envelope may share them); returning the
 * `returning` columns of each, as text.
 */
export function deleteReferencedSql(w: DeletedWith, returning: readonly string[]): string {
  const columns = w.columns.map((c) => `t.${q(c)}`).join(', ');
  const values = w.types.map((type, i) => `(v->>${i})::${type}`).join(', ');
  const pointed = w.refs.map((r, i) => `p.${q(r)} = t.${q(w.columns[i]!)}`).join(' and ');
  // $1, the person's key, is every batch's first parameter: typed here, though this statement needs it not.
  return `delete from ${w.table} t where $1::text is not null
     and (${columns}) in (select ${values} from json_array_elements($2::json) v)
     and not exists (select 1 from ${w.parentTable} p where ${pointed})${returningSql(returning)}`;
}

/**
 * The next `batch` rows in scope after `cursor` (by the table's key), their
 * old values' hashes kept for the proof, their columns rewritten; returns the
 * last key and how many rows changed. Applied once per row: the cursor moves
 * in the same transaction as the change.
 */
export function anonymizeBatchSql(
  e: ErasureEntity,
  cursor: readonly unknown[] | undefined,
  batch: number,
  secrets: ErasureSecrets,
  erasureId: string,
): Statement {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length + 1}`;
  };
  // The cursor is the last key as text (a bigint past 2^53 as a JSON number would round, and the batch repeat or skip
  // rows), each cast back to its column's type.
  const after = cursor
    ? ` and (${e.key.map((k) => `t.${k}`).join(', ')}) > (${cursor.map((v, i) => `${param(String(v))}::${e.keyTypes[i]}`).join(', ')})`
    : '';
  const rowKey =
    e.key.length === 1 ? `b.${e.key[0]}::text` : `json_build_array(${e.key.map((k) => `b.${k}`).join(', ')})::text`;
  const olds = e.columns.map((c, i) => `t.${c.column} as old_${i}`).join(', ');
  const captured = e.columns.map((c, i) => `(${param(c.name)}, b.old_${i}::text)`).join(', ');
  const sets = e.columns.map((c, i) => `${c.column} = ${valueSql(c, `b.old_${i}`, secrets, param)}`).join(', ');
  const match = e.key.map((k) => `u.${k} = b.${k}`).join(' and ');
  const text = `with b as (
    select ${e.key.map((k) => `t.${k}`).join(', ')}, ${olds} from ${e.table} t
     where ${withUser(e.scope!)}${after} order by ${e.key.map((k) => `t.${k}`).join(', ')} limit ${batch} for update
  ), kept as (
    insert into data_export_erasure_values (erasure_id, entity, row_key, column_name, sha256)
    select ${param(erasureId)}::uuid, ${param(e.name)}, ${rowKey}, c.name, encode(sha256(convert_to(c.v, 'UTF8')), 'hex')
      from b cross join lateral (values ${captured}) as c(name, v) where c.v is not null
  ), changed as (
    update ${e.table} u set ${sets} from b where ${match} returning 1
  )
  select (select count(*) from changed)::bigint as n,
         (select json_build_array(${e.key.map((k) => `b.${k}::text`).join(', ')}) from b order by ${e.key.map((k) => `b.${k} desc`).join(', ')} limit 1) as last`;
  return { text, params };
}

/** The person's columns of rows they share with another (a message's other side keeps it): ghost or null, a batch at a time. */
export function sharedBatchSql(e: ErasureEntity, batch: number, secrets: ErasureSecrets): Statement {
  const shared = e.shared!;
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length + 1}`;
  };
  const sets = shared.columns
    .map(
      (c) =>
        `${c.column} = case when ${c.column} = $1::${c.sqlType} then ${valueSql(c, c.column, secrets, param)} else ${c.column} end`,
    )
    .join(', ');
  // As deleteBatchSql: found by ctid, and each row changed in the scope itself (a ctid is unique per partition only).
  const text = `update ${e.table} t set ${sets}
    where t.ctid = any(array(select t.ctid from ${e.table} t where ${withUser(shared.where)} limit ${batch}))
      and ${withUser(shared.where)}`;
  return { text, params };
}

/** What a changed column becomes. */
function valueSql(c: ErasedColumn, old: string, secrets: ErasureSecrets, param: (v: unknown) => string): string {
  switch (c.strategy.kind) {
    case 'null':
      return 'null';
    case 'text':
      return `${param(c.strategy.text)}::${c.sqlType}`;
    case 'ghost':
      return `${param(secrets.ghostUser)}::${c.sqlType}`;
    case 'hmac': {
      // HMAC-SHA256 from PostgreSQL's own sha256(), no extension: H(outer || H(inner || value)).
      const { inner, outer } = secrets.hmac!;
      return `('hmac:' || encode(sha256(${param(outer)}::bytea || sha256(${param(inner)}::bytea || convert_to(${old}::text, 'UTF8'))), 'hex'))::${c.sqlType}`;
    }
  }
}

/** The object keys of the person's bound files in rows of `where`, after the key `afterKey`, in order, `batch` at a time. */
export function fileKeysSql(e: ErasureEntity, f: ErasedFiles, where: string, batch: number): string {
  return `select distinct ${f.locator} as key from ${e.table} t
           where ${withUser(where)} and ${withUser(f.owned)} and coalesce(${f.locator}, '') <> '' and ${f.locator} > $2
           order by 1 limit ${batch}`;
}

/**
 * The anonymized rows whose column still holds a value it held before the
 * erasure, or the person's key: none may ($2 the erasure, $3 the entity, $4
 * the column, $5 a fixed text it was set to, which is no residue even where
 * the old value was the same).
 */
export function residueSql(e: ErasureEntity, c: ErasedColumn): string {
  const rowKey =
    e.key.length === 1 ? `t.${e.key[0]}::text` : `json_build_array(${e.key.map((k) => `t.${k}`).join(', ')})::text`;
  return `select count(*)::bigint as n from ${e.table} t
           join data_export_erasure_values v on v.erasure_id = $2::uuid and v.entity = $3 and v.column_name = $4 and v.row_key = ${rowKey}
          where t.${c.column} is not null
            and t.${c.column}::text is distinct from $5
            and (encode(sha256(convert_to(t.${c.column}::text, 'UTF8')), 'hex') = v.sha256 or t.${c.column}::text = $1)`;
}

/**
 * The rows still in the person's scope whose anonymized column is not what
 * its strategy writes (null; the fixed text or the ghost's key, $2; a
 * pseudonym): a row written into the scope during the erasure, or one the
 * batches never reached. The value hashes (residueSql) cannot see those,
 * for nothing of them was recorded.
 */
export function unchangedSql(e: ErasureEntity, c: ErasedColumn, ghostUser: string | undefined): Statement {
  const column = `t.${c.column}`;
  const scope = withUser(e.scope!);
  switch (c.strategy.kind) {
    case 'null':
      return {
        text: `select count(*)::bigint as n from ${e.table} t where ${scope} and ${column} is not null`,
        params: [],
      };
    case 'hmac':
      return {
        text: `select count(*)::bigint as n from ${e.table} t where ${scope} and ${column} is not null and ${column}::text not like 'hmac:%'`,
        params: [],
      };
    case 'text':
      return {
        text: `select count(*)::bigint as n from ${e.table} t where ${scope} and ${column}::text is distinct from $2`,
        params: [c.strategy.text],
      };
    case 'ghost':
      return {
        text: `select count(*)::bigint as n from ${e.table} t where ${scope} and ${column} is distinct from $2::${c.sqlType}`,
        params: [ghostUser],
      };
  }
}
