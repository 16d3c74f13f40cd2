import { isMap, isScalar, isSeq, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { parseTableRef } from '../model/identifiers.ts';

/** A name the exporter makes and the archive's files carry (an entity, a file column, a file source): plain and lower-case. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** PostgreSQL keeps at most 63 bytes of a name. */
export const MAX_NAME_BYTES = 63;

export const TABLE_REF_HELP =
  'must name a table: name, or schema.name (a part holding a dot or a double quote in double quotes, "" for a quote)';

/** Any name PostgreSQL takes: 1 to 63 bytes, no NUL (line breaks and other control characters included: every output escapes them). */
export function isColumnName(name: string): boolean {
  return name !== '' && Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES && !name.includes('\u0000');
}

/** Reads YAML nodes of one file, collecting every problem as `file:line: where: what`. */
export class YamlReader {
  readonly problems: string[] = [];
  private readonly file: string;
  private readonly lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }

  lineOf(node: Node | null | undefined): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  problem(node: Node | null | undefined, where: string, what: string): void {
    this.problems.push(`${this.file}:${this.lineOf(node)}: ${where}: ${what}`);
  }

  /** A problem, and the value that stands in for what is missing (so reading goes on and every problem is found). */
  missing<T>(fallback: T, node: Node | null | undefined, where: string, what: string): T {
    this.problem(node, where, what);
    return fallback;
  }

  /** The entries of a mapping, with unknown keys reported. */
  entries(node: unknown, where: string, known?: readonly string[]): [string, Node, Node][] {
    if (!isMap(node)) {
      this.problem(node as Node, where, 'must be a mapping');
      return [];
    }
    const out: [string, Node, Node][] = [];
    for (const pair of (node as YAMLMap).items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (known && !known.includes(key)) {
        this.problem(pair.key as Node, where, `unknown key "${key}" (expected ${known.join(', ')})`);
        continue;
      }
      out.push([key, pair.value as Node, pair.key as Node]);
    }
    return out;
  }

  text(node: Node | undefined, where: string): string {
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    this.problem(node, where, 'must be a non-empty text');
    return '';
  }

  /** A name the exporter makes (an entity, a file source): plain and lower-case, for it names files and settings. */
  name(node: Node | undefined, where: string): string {
    const value = this.text(node, where);
    if (value && !IDENTIFIER.test(value))
      this.problem(node, where, `must be a plain lower-case name, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A column of the application's, as the catalog spells it: any PostgreSQL name (quoted camelCase, spaces, Unicode). */
  column(node: Node | undefined, where: string): string {
    const value = isScalar(node) && typeof node.value === 'string' ? node.value : this.text(node, where);
    if (value !== '' && !isColumnName(value))
      this.problem(
        node,
        where,
        `is not a PostgreSQL column name (1 to ${MAX_NAME_BYTES} bytes, no NUL), got ${JSON.stringify(value)}`,
      );
    return value;
  }

  columns(node: Node | undefined, where: string): string[] {
    if (!isSeq(node) || node.items.length === 0) {
      this.problem(node, where, 'must be a non-empty list of column names');
      return [];
    }
    return node.items.map((item, i) => this.column(item as Node, `${where}[${i}]`));
  }

  /** A table of the application's: `name` or `schema.name` (identifiers.ts). */
  table(node: Node | undefined, where: string): string {
    const value = this.text(node, where);
    if (value && !parseTableRef(value)) this.problem(node, where, `${TABLE_REF_HELP}, got ${JSON.stringify(value)}`);
    return value;
  }
}
