import { kindOfType } from '../model/column-kinds.ts';
import type { CatalogTable } from './catalog.ts';
import { isJson, isTextLike, type ValueSamples } from './draft-samples.ts';
import { notSecretByName, secretLookingJsonValues, secretLookingName, secretLookingValues } from './secrets.ts';

/** How a column of an exported table is drafted. */
export type ColumnDraft =
  | { as: 'export'; guessed: boolean; description: string; notSecret?: string; notSecretTodo?: boolean; todo?: string }
  | { as: 'omit'; reason: string /** What a person must decide (a TODO), where there is something. */; todo?: string }
  | { as: 'file'; role: 'key' | 'url'; exported: boolean; description: string };

/** Names of columns that hold where a file is stored (an object key, a storage path), on their words (`storage_key`, `objectKey`). */
const FILE_KEY = /_(object|storage|file|s3|blob|upload|attachment|media|image|pictrs)_?(key|path|alias)_$/;
/**
 * Names of text columns that may hold a file's URL: a URL named for what a person uploads
 * (avatar_url, image_uri, photo), never any URL (an inbox, a webhook, a profile link).
 */
const FILE_URL =
  /_(avatar|banner|icon|image|img|photo|picture|pic|thumbnail|thumb|attachment|file|media|upload|document|logo|cover|video|audio)(_url|_uri)?_$/;

const words = (name: string) =>
  `_${name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')}_`;

/**
 * Whether a column is exported (described by its comment, or a guess from
 * its name), omitted (a credential by its name or its values, or of a type
 * not exported yet) or a file's key or URL. `role`: its part in the plan (the
 * user's id, a parent's key), which describes it. `samples`: its values, where
 * init read some.
 */
export function draftColumn(
  table: CatalogTable,
  column: string,
  role: string | undefined,
  samples?: ValueSamples,
): ColumnDraft {
  const live = table.columns.get(column)!;
  const text = isTextLike(live);
  const values = samples?.get(table.key)?.get(column);
  if (text && FILE_KEY.test(words(column)))
    return { as: 'file', role: 'key', exported: false, description: 'where the application stores a file' };
  if (values && isJson(live) && secretLookingJsonValues(values, true))
    return {
      as: 'omit',
      reason: 'looks secret (its JSON holds what looks like a credential)',
      todo: 'a key or a text in it looks like a credential: export it only if none is one',
    };
  if (values && values.length > 0 && secretLookingValues(values))
    return { as: 'omit', reason: 'looks secret (its values look like password hashes or tokens)' };
  let notSecret: string | undefined;
  let notSecretTodo = false;
  if (secretLookingName(column)) {
    notSecret = notSecretByName(column, live.type);
    // A name that says "key" only (state_key, sort_key), whose values are plainly not random: an id or a word, said with a TODO.
    if (
      notSecret === undefined &&
      keyOnly(column) &&
      values &&
      values.length >= 3 &&
      values.every((v) => v.length < 64 && !/^[A-Za-z0-9+/_=-]{24,}$/.test(v))
    ) {
      notSecret = 'its values are ids or words, not credentials (init read a sample)';
      notSecretTodo = true;
    }
    if (notSecret === undefined) return { as: 'omit', reason: 'looks secret (its name)' };
  }
  if (!kindOfType(live.type))
    return {
      as: 'omit',
      reason: `its type (${live.sqlType}) cannot be exported yet`,
      todo: 'export it as text once the exporter can, or leave it out',
    };
  const description = live.comment?.trim()
    ? live.comment.trim().replace(/\s+/g, ' ')
    : guessDescription(column, live.type, role);
  if (text && FILE_URL.test(words(column))) return { as: 'file', role: 'url', exported: true, description };
  return {
    as: 'export',
    guessed: !live.comment?.trim() && role === undefined,
    description,
    ...(notSecret ? { notSecret, notSecretTodo } : {}),
  };
}

/** Whether the only word of a name that looks secret is "key" (a state_key, a sort key), not password, token, … */
function keyOnly(column: string): boolean {
  const w = words(column);
  return secretLookingName(column) && !secretLookingName(w.replaceAll(/_keys?_/g, '_'));
}

/** Whether a column is left out as a credential (its name, unless a flag or a public key). */
export function isDraftSecret(column: string, type: string): boolean {
  return secretLookingName(column) && notSecretByName(column, type) === undefined;
}

/** A description from a column's name and type: a guess a person should read. */
function guessDescription(column: string, type: string, role: string | undefined): string {
  if (role) return role;
  const text = column
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_\s]+/g, ' ')
    .trim();
  const sentence = text.charAt(0).toUpperCase() + text.slice(1).toLowerCase();
  const what =
    type === 'timestamp with time zone'
      ? 'a date and time'
      : type === 'boolean'
        ? 'yes or no'
        : type.includes('json')
          ? 'JSON'
          : undefined;
  return what ? `${sentence} (${what}).` : `${sentence}.`;
}
