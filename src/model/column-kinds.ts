/**
 * Everything that varies by a column's kind, in one table: which database
 * types are of the kind, its JSON and CSV forms (SQL that PostgreSQL runs),
 * its JSON Schema type and the most JSON text one value takes. Adding a
 * kind is one row here: `COLUMN_KINDS` is a record over `ColumnKind`, so the
 * compiler names every field the new row must decide.
 */

import { isoLocalTimestamp, isoTimestamp } from './iso-timestamp.ts';

export type ColumnKind =
  | 'uuid'
  | 'text'
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'float'
  | 'boolean'
  | 'timestamptz'
  | 'timestamp'
  | 'jsonb'
  | 'json'
  | 'array'
  | 'bytea'
  | 'as_text';

export interface ColumnKindRules {
  /** The database types of this kind, as information_schema names them. */
  databaseTypes: readonly string[];
  /** SQL for the value as row_to_json should see it, from the column's SQL. */
  json: (expr: string) => string;
  /** SQL for the CSV cell COPY writes (its quoting is COPY's: `quoted`). */
  csv: (expr: string) => string;
  /**
   * The paired read's CSV field, built in SQL byte for byte as COPY writes it
   * (NULL for NULL), from the value `json` selected: a split entity's JSON
   * and CSV come from one read (pairedCopySql).
   */
  csvField: (value: string) => string;
  /** Quoted in CSV (COPY's force_quote): everything but numbers and booleans, so a spreadsheet never splits a cell. */
  quoted: boolean;
  /** The JSON Schema of a value (schema.json); `type` gains "null" where the column can be null. */
  schema: Readonly<Record<string, unknown>>;
  /** The most JSON text a value takes, quotes included; `storedSize` kinds add their stored size (pg_column_size) on top. */
  valueBytes: number;
  storedSize: boolean;
}

/**
 * OWASP's advice for CSV injection, first half: a text cell that a spreadsheet
 * could run as a formula gets a leading apostrophe. That is one starting with
 * = + - @, a tab or a CR, also after leading whitespace (a spreadsheet that
 * trims spaces on import would otherwise see " =1+1" as a formula). A plain
 * negative decimal ("-12.5") is left alone, so it stays a number. Every cell
 * starting with "+" is prefixed, phone numbers included: "+15551234567" would
 * otherwise become the number 15551234567 (the "+" lost) while
 * "+44 20 7946 0958" stayed text; one rule, and the text is never changed
 * (README.txt tells the reader). The second half is `quoted`.
 */
export const formulaSafe = (expr: string) =>
  `case when ${mayStartFormula(expr)} and ${expr} ~ '^([\\t\\r]|[[:space:]]*[-=+@])' and ${expr} !~ '^-[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$' then '''' || ${expr} else ${expr} end`;

/**
 * A cheap test that lets almost every cell skip the two regular expressions
 * (a third of the CSV's time in PostgreSQL for the heavy user): only a first
 * character that is whitespace, + - = @, or not ASCII at all (a locale may
 * count some of those as [[:space:]]) can start a formula. The regular
 * expressions still decide.
 */
const mayStartFormula = (expr: string) =>
  `(ascii(${expr}) in (9, 10, 11, 12, 13, 32, 43, 45, 61, 64) or ascii(${expr}) > 127)`;

const same = (expr: string) => expr;
/** The CSV's text of a json value: on one line, and without the whitespace around it (so it starts as a JSON value does). */
const jsonCsvText = (text: string) => `btrim(translate(${text}, E'\\n\\r', '  '), E' \\t')`;
/** A field COPY quotes: in double quotes, inner quotes doubled (`escape` where the text may hold one). */
const quotedField = (text: string, mayHoldQuotes: boolean) =>
  `'"' || ${mayHoldQuotes ? `replace(${text}, '"', '""')` : text} || '"'`;
const numberField = (value: string) => `${value}::text`;

/** PostgreSQL's geometric types: exported as their text, in no order a drafted order_by can count on. */
export const GEOMETRIC_TYPES = ['point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle'];

/**
 * Numbers stay numbers (unquoted in CSV, numbers in JSON with all their
 * digits); text is formula-safe and quoted; jsonb is nested as stored in
 * JSON and its text in CSV, which starts with { [ " a digit t f n or the -
 * of a negative number (left alone by the rule anyway), so never a formula.
 */
export const COLUMN_KINDS: Readonly<Record<ColumnKind, ColumnKindRules>> = {
  uuid: {
    databaseTypes: ['uuid'],
    json: same,
    csv: same,
    // Its text holds no quote.
    csvField: (value) => quotedField(`${value}::text`, false),
    quoted: true,
    schema: { type: 'string', format: 'uuid' },
    valueBytes: 38,
    storedSize: false,
  },
  text: {
    databaseTypes: ['text', 'character varying', 'character'],
    json: same,
    csv: formulaSafe,
    csvField: (value) => quotedField(formulaSafe(value), true),
    quoted: true,
    schema: { type: 'string' },
    valueBytes: 2,
    storedSize: true,
  },
  integer: {
    databaseTypes: ['integer', 'smallint'],
    json: same,
    csv: same,
    csvField: numberField,
    quoted: false,
    schema: { type: 'integer' },
    valueBytes: 11,
    storedSize: false,
  },
  bigint: {
    databaseTypes: ['bigint'],
    json: same,
    csv: same,
    csvField: numberField,
    quoted: false,
    // All its digits: a reader that parses numbers as doubles loses those past 2^53 (the CSV holds the same text).
    schema: { type: 'integer' },
    valueBytes: 20,
    storedSize: false,
  },
  numeric: {
    databaseTypes: ['numeric'],
    json: same,
    csv: same,
    csvField: numberField,
    quoted: false,
    // All its digits; NaN and ±Infinity (PostgreSQL 14 and later) come out of row_to_json as JSON strings.
    schema: { type: ['number', 'string'] },
    valueBytes: 40,
    storedSize: false,
  },
  float: {
    databaseTypes: ['real', 'double precision'],
    // The shortest text that reads back as the same value (extra_float_digits, PostgreSQL 12 and later); NaN and ±Infinity are JSON strings.
    json: same,
    csv: same,
    csvField: numberField,
    quoted: false,
    schema: { type: ['number', 'string'] },
    valueBytes: 25,
    storedSize: false,
  },
  boolean: {
    databaseTypes: ['boolean'],
    json: same,
    csv: same,
    // COPY writes t and f.
    csvField: (value) => `case when ${value} then 't' when not ${value} then 'f' end`,
    quoted: false,
    schema: { type: 'boolean' },
    valueBytes: 5,
    storedSize: false,
  },
  timestamptz: {
    databaseTypes: ['timestamp with time zone'],
    json: isoTimestamp,
    csv: isoTimestamp,
    // `json` made it text already, which holds no quote.
    csvField: (value) => quotedField(`${value}::text`, false),
    quoted: true,
    // 'infinity' and '-infinity' as such, a time before year 1 with " BC" after it (format is an annotation in 2020-12; pattern holds).
    schema: {
      type: 'string',
      format: 'date-time',
      pattern: '^(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z( BC)?|-?infinity)$',
    },
    valueBytes: 29,
    storedSize: false,
  },
  timestamp: {
    databaseTypes: ['timestamp without time zone'],
    // A time with no zone: as it is stored, ISO 8601 with all six fractional digits and no offset.
    json: isoLocalTimestamp,
    csv: isoLocalTimestamp,
    csvField: (value) => quotedField(`${value}::text`, false),
    quoted: true,
    schema: { type: 'string', pattern: '^(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}( BC)?|-?infinity)$' },
    valueBytes: 28,
    storedSize: false,
  },
  jsonb: {
    databaseTypes: ['jsonb'],
    json: same,
    csv: (expr) => `(${expr})::text`,
    csvField: (value) => quotedField(`${value}::text`, true),
    quoted: true,
    // Nested JSON, as stored.
    schema: {},
    valueBytes: 0,
    storedSize: true,
  },
  json: {
    databaseTypes: ['json'],
    // Its text as written, which may hold line breaks (jsonb's never does): row_to_json would put them in the JSON line,
    // breaking one record per line. Outside a string JSON allows only whitespace there (PostgreSQL refuses a raw control
    // character inside a string), so a line break becomes a space and the value means what it meant: its duplicate keys,
    // its numbers past 2^53 and its nesting are kept as written (jsonb would drop a duplicate key). In CSV, the whitespace
    // around it goes too, so the cell starts with { [ " a digit t f n or the - of a number, never a formula.
    // The value as stored; its line breaks become spaces as the JSON lines are read (BinaryTextColumns' oneLine), never by parsing it again.
    json: same,
    csv: (expr) => jsonCsvText(`(${expr})::text`),
    csvField: (value) => quotedField(jsonCsvText(`${value}::text`), true),
    quoted: true,
    schema: {},
    valueBytes: 0,
    storedSize: true,
  },
  array: {
    databaseTypes: ['ARRAY'],
    // A JSON array (nested for a multi-dimensional one; each element as to_jsonb writes its type), and that JSON's text in CSV.
    json: (expr) => `to_jsonb(${expr})`,
    csv: (expr) => `to_jsonb(${expr})::text`,
    csvField: (value) => quotedField(`${value}::text`, true),
    quoted: true,
    schema: { type: 'array' },
    valueBytes: 2,
    storedSize: true,
  },
  bytea: {
    databaseTypes: ['bytea'],
    // PostgreSQL's own hex form: "\\x" and two hex digits a byte. Never a formula, and no quote to escape.
    json: (expr) => `'\\x' || encode(${expr}, 'hex')`,
    csv: (expr) => `'\\x' || encode(${expr}, 'hex')`,
    csvField: (value) => quotedField(value, false),
    quoted: true,
    schema: { type: 'string', pattern: '^\\\\x([0-9a-f]{2})*$' },
    valueBytes: 4,
    storedSize: true,
  },
  as_text: {
    // Every other type whose text is the value: enums, domains and extension types (USER-DEFINED: citext, ltree, hstore, a composite),
    // dates, times and intervals (under the snapshot's DateStyle ISO and IntervalStyle iso_8601), network addresses, money, bits, geometry.
    databaseTypes: [
      'USER-DEFINED',
      'date',
      'time without time zone',
      'time with time zone',
      'interval',
      'inet',
      'cidr',
      'macaddr',
      'macaddr8',
      'money',
      'bit',
      'bit varying',
      'tsvector',
      'tsquery',
      'xml',
      ...GEOMETRIC_TYPES,
    ],
    json: (expr) => `(${expr})::text`,
    csv: (expr) => formulaSafe(`(${expr})::text`),
    csvField: (value) => quotedField(formulaSafe(value), true),
    quoted: true,
    schema: { type: 'string' },
    valueBytes: 2,
    storedSize: true,
  },
};

/** The kind of a database type, or undefined for a type the export cannot hold exactly yet. */
export function kindOfType(databaseType: string): ColumnKind | undefined {
  return (Object.keys(COLUMN_KINDS) as ColumnKind[]).find((kind) =>
    COLUMN_KINDS[kind].databaseTypes.includes(databaseType),
  );
}
