import { isMap, isScalar, type Node } from 'yaml';
import type { AnonymizeStrategy, EraseRule, ErasureSettings } from '../model/definition.ts';
import type { YamlReader } from './yaml-reader.ts';

/*
 * What erasure does, in the definition's words (docs/erasure.md):
 *
 *   erasure: { ghost_user: "…" }            # optional: the user that kept rows point at instead
 *   entities:
 *     posts:    { …, erase: delete }
 *     comments: { …, erase: { anonymize: { author_id: ghost, body: { text: "[removed]" }, email: hmac, phone: null } } }
 *     invoices: { …, erase: { keep: "tax law: ten years (§147 AO)" } }
 */

/** An entity's `erase:`: delete, anonymize (each column's strategy), or keep (why). */
export function parseErase(r: YamlReader, at: string, node: Node): EraseRule | undefined {
  const line = r.lineOf(node);
  if (isScalar(node) && node.value === 'delete') return { kind: 'delete', line };
  if (!isMap(node)) {
    r.problem(node, `${at}.erase`, 'must be delete, { anonymize: { column: strategy, … } } or { keep: "why" }');
    return undefined;
  }
  const fields = r.entries(node, `${at}.erase`, ['anonymize', 'keep']);
  if (fields.length !== 1) {
    r.problem(node, `${at}.erase`, 'must say one of anonymize or keep');
    return undefined;
  }
  const [kind, value] = fields[0]!;
  if (kind === 'keep') return { kind: 'keep', why: r.text(value, `${at}.erase.keep (why, and for how long)`), line };
  const columns: Record<string, AnonymizeStrategy> = {};
  for (const [column, strategy] of r.entries(value, `${at}.erase.anonymize`)) {
    const parsed = anonymizeStrategy(r, `${at}.erase.anonymize.${column}`, strategy);
    if (parsed) columns[column] = parsed;
  }
  if (Object.keys(columns).length === 0 && isMap(value) && value.items.length === 0)
    r.problem(value, `${at}.erase.anonymize`, 'must name at least one column');
  return { kind: 'anonymize', columns, line };
}

/** A column's strategy: null, hmac, ghost, or { text: "…" }. */
function anonymizeStrategy(r: YamlReader, where: string, node: Node): AnonymizeStrategy | undefined {
  if (isScalar(node) && (node.value === null || node.value === 'null')) return { kind: 'null' };
  if (isScalar(node) && node.value === 'hmac') return { kind: 'hmac' };
  if (isScalar(node) && node.value === 'ghost') return { kind: 'ghost' };
  if (isMap(node)) {
    const fields = r.entries(node, where, ['text']);
    const text = fields.find(([k]) => k === 'text');
    if (text && isScalar(text[1]) && typeof text[1].value === 'string') return { kind: 'text', text: text[1].value };
  }
  r.problem(node, where, 'must be null, hmac, ghost, or { text: "what it becomes" }');
  return undefined;
}

/** The top-level `erasure:`: the ghost user, where there is one. */
export function parseErasureSettings(r: YamlReader, node: Node, key: Node): ErasureSettings {
  const settings: ErasureSettings = { line: r.lineOf(key) };
  for (const [name, value] of r.entries(node, 'erasure', ['ghost_user'])) {
    if (name === 'ghost_user') {
      if (isScalar(value) && (typeof value.value === 'string' || typeof value.value === 'number'))
        settings.ghostUser = String(value.value);
      else r.problem(value, 'erasure.ghost_user', "must be the ghost user's key, as text");
    }
  }
  return settings;
}
