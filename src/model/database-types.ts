import { COLUMN_KINDS, GEOMETRIC_TYPES } from './column-kinds.ts';

/*
 * What else the exporter asks of a database type, said here beside the
 * kinds (column-kinds.ts) rather than as lists where it is asked.
 */

/** Text: a file's key, URL, name or content type, a text user key, a value sampled for credentials. */
export const TEXT_TYPES: ReadonlySet<string> = new Set(COLUMN_KINDS.text.databaseTypes);

/** Whole numbers of bytes: a file's size. */
export const SIZE_TYPES: ReadonlySet<string> = new Set(['integer', 'bigint', 'numeric']);

/** Types with no ordering, or none a drafted order_by can count on (an extension's type, an array of one). */
export const UNORDERED_TYPES: ReadonlySet<string> = new Set([
  'json',
  'jsonb',
  'xml',
  ...GEOMETRIC_TYPES,
  'USER-DEFINED',
  'ARRAY',
]);

/** Types whose values can name the same thing, one family each (a text key held in varchar, an integer key in bigint). */
export const TYPE_FAMILIES: readonly (readonly string[])[] = [
  ['text', 'character varying', 'character', 'citext', 'name'],
  ['smallint', 'integer', 'bigint', 'numeric'],
  ['uuid'],
];
