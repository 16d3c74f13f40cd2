/**
 * PostgreSQL names as an application has them: any identifier (quoted
 * camelCase, upper case, spaces, Unicode, reserved words) in any schema. In
 * SQL every name the exporter writes is quoted; in a definition a table is
 * written `name` or `schema.name`, each part as the catalog spells it (case
 * kept, nothing folded), in double quotes where it holds a dot or a double
 * quote (`"my.table"`, with `""` for a quote).
 */

/** A table's identity: its quoted, schema-qualified name, which is also how SQL names it (`"public"."User"`). */
export type TableKey = string;

/** A name as SQL writes it, whatever it holds. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function tableKey(schema: string, name: string): TableKey {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** A table as a definition names it: its schema, when given, and its name. */
export interface TableRef {
  schema?: string;
  name: string;
}

/** `name`, `schema.name`, or either part in double quotes; undefined for anything else. */
export function parseTableRef(text: string): TableRef | undefined {
  const parts: string[] = [];
  let at = 0;
  while (at <= text.length) {
    if (text[at] === '"') {
      let part = '';
      let i = at + 1;
      for (; i < text.length; i++) {
        if (text[i] === '"' && text[i + 1] === '"') {
          part += '"';
          i++;
        } else if (text[i] === '"') break;
        else part += text[i];
      }
      if (i >= text.length || part === '') return undefined;
      parts.push(part);
      at = i + 1;
    } else {
      const end = text.indexOf('.', at);
      const part = text.slice(at, end === -1 ? text.length : end);
      if (part === '' || part.includes('"')) return undefined;
      parts.push(part);
      at = end === -1 ? text.length : end;
    }
    if (at === text.length) break;
    if (text[at] !== '.') return undefined;
    at++;
  }
  if (parts.length === 1) return { name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  return undefined;
}

/** A part of a table's name as a definition writes it: as it is where it can be, else quoted. */
export function refPart(name: string): string {
  return /^[^."\s][^."]*$/.test(name) && name.trim() === name ? name : quoteIdent(name);
}

/** A definition's name for a table: without its schema where `schema` is the first on the search path, so `users` stays `users`. */
export function writeTableRef(schema: string, name: string, defaultSchema: string): string {
  return schema === defaultSchema ? refPart(name) : `${refPart(schema)}.${refPart(name)}`;
}

/**
 * Text as an SQL string literal that means the same whatever the session's
 * standard_conforming_strings says: an escape string (E'…') with its
 * backslashes and quotes escaped. A plain '…' literal with only its quotes
 * doubled breaks out at a backslash when a database (or its owner) turns
 * that setting off; a SET in the same message comes too late, for the whole
 * message is read before it runs.
 */
export function textLiteral(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}
