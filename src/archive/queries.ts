import { COLUMN_KINDS } from '../model/column-kinds.ts';
import type { ExportColumn, ExportEntity, ExportFile } from '../model/entities.ts';
import { quoteIdent, textLiteral } from '../model/identifiers.ts';
import { isUserIdText } from '../model/user-id.ts';
import { INCLUDED_SETTING } from '../snapshot/snapshot.ts';
import { NotAUserIdError } from './archive-errors.ts';

/**
 * SQL for one entity's rows, serialized by PostgreSQL itself (COPY … TO STDOUT).
 * Per-row work in JavaScript is what made exports slow (see BENCHMARKS.md), so
 * the database writes the JSON and the CSV and Node only compresses and uploads.
 *
 * COPY takes no bind parameters, so the user id is inlined as a literal:
 * an escape string literal (backslashes and quotes escaped: the same under
 * any standard_conforming_strings), which the resolved SQL casts to the user
 * key's type (`:user` stands for it).
 */

/** The user id (any key, as text) as an SQL string literal, the same under any standard_conforming_strings (textLiteral). */
export function userLiteral(userId: string): string {
  if (!isUserIdText(userId)) throw new NotAUserIdError(userId);
  return textLiteral(userId);
}

function columnSql(column: ExportColumn): string {
  return column.sql ?? `t.${quoteIdent(column.name)}`;
}

function jsonValue(column: ExportColumn): string {
  return COLUMN_KINDS[column.kind].json(columnSql(column));
}

function csvValue(column: ExportColumn): string {
  return COLUMN_KINDS[column.kind].csv(columnSql(column));
}

/**
 * How an entity's rows are read. A whole entity ('scan') in the order its
 * scan yields, which spares sorting millions of rows twice (a third of the
 * heavy export's time, see BENCHMARKS.md): both of its files come from the
 * same plan on the same snapshot, so they list the same rows. A split entity
 * in its total order ('ordered'): once for both files (pairedCopySql), or,
 * where its CSV cannot wait on disk, its JSON and its CSV each in one query,
 * so that part N of both holds the same rows whatever the table's physical
 * order.
 */
export type RowOrder = 'scan' | 'ordered';

/**
 * Which rows' file paths a read keeps. 'all': the rows are read in the
 * snapshot that found the user has no files (every path is null anyway).
 * 'included': the
 * files were listed in an earlier snapshot and downloaded before this one
 * opened (write-archive.ts), so a row names its file only where the archive
 * holds that very file: its path and a digest of its key or URL are in the
 * set of included files (includedFileKey, write-files.ts). A file that could
 * not be included (missing, too large, failed), a row that is new, and one
 * whose key changed meanwhile all have a null path. The set is not in the
 * SQL, which would grow with it: the connection holds it, one per line, in
 * the transaction's setting INCLUDED_SETTING (Snapshot.keepFiles), and the
 * query looks each row up in a hash of it made once.
 */
export type PathsKept = 'all' | 'included';

function selectRows(
  entity: ExportEntity,
  userId: string,
  values: string[],
  order: RowOrder,
  paths: PathsKept = 'all',
): string {
  const user = userLiteral(userId);
  const from = entity.from.replaceAll(':user', user);
  const included = `select unnest(string_to_array(current_setting('${INCLUDED_SETTING}'), E'\\n'))`;
  const onlyIncluded = (value: string, column: ExportColumn) =>
    column.fileLocator !== undefined && paths === 'included'
      ? `case when ${value} || E'\\t' || encode(sha256(convert_to(${column.fileLocator}, 'UTF8')), 'hex') in (${included}) then ${value} end`
      : value;
  const list = values
    .map(
      (v, i) =>
        `${onlyIncluded(v, entity.columns[i]!).replaceAll(':user', user)} as ${quoteIdent(entity.columns[i]!.name)}`,
    )
    .join(', ');
  const orderBy = order === 'ordered' ? ` order by ${entity.orderBy}` : '';
  return `select ${list} from ${from}${orderBy}`;
}

/**
 * The entity's rows made into their JSON and CSV text, as the export's reads
 * make them, counted (no row leaves the database): it fails where a read
 * would, and is how unwritable-row.ts finds a row that cannot be written.
 */
export function entityProbeSql(entity: ExportEntity, userId: string): string {
  const json = `select row_to_json(r)::text as v from (${selectRows(entity, userId, entity.columns.map(jsonValue), 'scan')}) r`;
  const csv = `select concat_ws(',', ${entity.columns.map((c) => `(r.${quoteIdent(c.name)})::text`).join(', ')}) as v from (${selectRows(entity, userId, entity.columns.map(csvValue), 'scan')}) r`;
  return `select (select count(*) from (${json}) j where j.v is not null) + (select count(*) from (${csv}) c where c.v is not null)`;
}

/** One column's JSON and CSV values for the user's rows, counted: fails where that column's values would. */
export function columnProbeSql(entity: ExportEntity, column: ExportColumn, userId: string): string {
  const user = userLiteral(userId);
  const values = `(${jsonValue(column)})::text as j, (${csvValue(column)})::text as c`.replaceAll(':user', user);
  return `select count(*) from (select ${values} from ${entity.from.replaceAll(':user', user)}) s where s.j is not null or s.c is not null`;
}

/**
 * Counts an entity's rows and adds up the stored size of their values: cheap
 * (nothing is serialized) and close to the size of their JSON, to which keys
 * and quotes add a fixed cost per column.
 */
export function sizeSql(entity: ExportEntity, userId: string): string {
  const user = userLiteral(userId);
  const valueBytes = entity.columns
    .filter((c) => COLUMN_KINDS[c.kind].storedSize)
    .map((c) => `coalesce(pg_column_size(${columnSql(c)}), 0)`);
  // Per column: its key ("name": and a comma), and the widest text of a value of its kind. A close estimate matters:
  // an entity estimated at more than half the entry limit is read in its total order and in numbered parts, one in
  // parallel with the other otherwise (the 1M-row user, 410 MB of JSON, was estimated at 703 MB with 40 bytes per value).
  const fixedBytes = entity.columns.reduce((sum, c) => sum + c.name.length + 4 + COLUMN_KINDS[c.kind].valueBytes, 0);
  const bytes = [...valueBytes, String(fixedBytes)].join(' + ').replaceAll(':user', user);
  // The files its rows point at (one per file column that holds one): an entity whose rows point at none costs no file query at all.
  const files =
    entity.files.length === 0
      ? '0'
      : entity.files.map((f) => `count(*) filter (where coalesce(${f.locator}, '') <> '')`).join(' + ');
  return `select count(*)::bigint as n, coalesce(sum(${bytes}), 0)::bigint as bytes, ${files}::bigint as files from ${entity.from.replaceAll(':user', user)}`;
}

/**
 * One JSON object per row, in COPY's binary format: PostgreSQL hands each
 * row's text over untouched, with its length in front, which
 * BinaryTextRows turns into lines (row_to_json escapes every newline). Text
 * format would double every backslash; CSV format with a quote and
 * delimiter byte JSON can never hold passed lines through untouched too, but
 * scanned every one for them first.
 */
export function jsonLinesCopySql(
  entity: ExportEntity,
  userId: string,
  order: RowOrder = 'scan',
  paths?: PathsKept,
): string {
  return jsonLinesCopy(selectRows(entity, userId, entity.columns.map(jsonValue), order, paths));
}

function jsonLinesCopy(rows: string, tail = ''): string {
  return `copy (select row_to_json(r)::text from (${rows}) r${tail}) to stdout with (format binary)`;
}

/**
 * RFC 4180 CSV (CRLF is what the RFC says, but PostgreSQL writes LF; every
 * reader accepts both). OWASP's second half: every non-null value of a column
 * that is not a number is quoted, so that a spreadsheet splitting on ";" or a
 * tab as well as "," (LibreOffice's import dialog does by default) never cuts
 * a cell in two. Numbers stay unquoted, and so stay numbers.
 */
export function csvCopySql(entity: ExportEntity, userId: string, order: RowOrder = 'scan', paths?: PathsKept): string {
  const rows = selectRows(entity, userId, entity.columns.map(csvValue), order, paths);
  const quoted = entity.columns.filter((c) => COLUMN_KINDS[c.kind].quoted).map((c) => quoteIdent(c.name));
  const forceQuote = quoted.length > 0 ? `, force_quote (${quoted.join(', ')})` : '';
  return `copy (${rows}) to stdout with (format csv, header true, encoding 'UTF8'${forceQuote})`;
}

/**
 * A split entity's rows read once for both files, in its total order: per
 * row its JSON object and its CSV record (without the line's end), the
 * same bytes csvCopySql's COPY writes for that row, in COPY's binary format.
 * One read sorts the rows once, where a query per file sorted millions of
 * rows twice, and computes each timestamp's text once for both (the 3M-row
 * user's queries: 23.5 s together against 17.9 and 13.0 s apart, BENCHMARKS.md).
 *
 * The record is built with `||`, whose NULL makes the whole value NULL and
 * so an empty field. COPY's own quoting, as csvCopySql asks for it: every
 * non-null value of a column that is not a number is quoted, quotes inside
 * doubled; booleans as t and f (each kind's csvField, column-kinds.ts).
 * `concat` was slower: it looks up each argument's output function per call.
 */
export function pairedCopySql(entity: ExportEntity, userId: string, paths?: PathsKept): string {
  const rows = selectRows(entity, userId, entity.columns.map(jsonValue), 'ordered', paths);
  const record = entity.columns
    .map((c) => `coalesce(${COLUMN_KINDS[c.kind].csvField(`r.${quoteIdent(c.name)}`)}, '')`)
    .join(` || ',' || `);
  return `copy (select row_to_json(r)::text, ${record} from (${rows}) r) to stdout with (format binary)`;
}

/**
 * The files of one file column of the user's rows, one JSON object per row
 * (as jsonLinesCopySql) in path order: where each goes in the archive,
 * where it is read from, and its content type and size when the database
 * has them, and whether it is the row's to read (its key inside the prefix
 * the definition binds it to).
 */
export function fileListCopySql(entity: ExportEntity, file: ExportFile, userId: string): string {
  const user = userLiteral(userId);
  const from = entity.from.replaceAll(':user', user);
  const values = [
    `${file.path} as path`,
    `${file.locator} as locator`,
    `${file.contentType ?? 'null::text'} as content_type`,
    // A size a user could have written: anything but a whole number of bytes a file can have is unknown (read from the source instead).
    file.size
      ? `(case when ${file.size} between 0 and ${Number.MAX_SAFE_INTEGER} then (${file.size})::bigint end) as size`
      : 'null::bigint as size',
    `${file.owned} as owned`,
  ];
  return jsonLinesCopy(`select ${values.join(', ')} from ${from}`, ' where r.path is not null order by r.path');
}

/**
 * The header line COPY writes for the entity's CSV: the column names, each in
 * double quotes where COPY quotes it (a comma, a double quote or a line break
 * in it), inner quotes doubled. For an entity with no rows, where the file is
 * this line alone.
 */
export function csvHeader(entity: ExportEntity): string {
  return `${entity.columns.map((c) => (/[",\n\r]/.test(c.name) ? `"${c.name.replaceAll('"', '""')}"` : c.name)).join(',')}\n`;
}
