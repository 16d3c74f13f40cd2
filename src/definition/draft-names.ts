import type { CatalogTable } from './catalog.ts';

/** A name's words: camelCase split, lower-case, underscores around (`_user_id_` for userId). */
export const wordsOf = (name: string) =>
  `_${name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')}_`;

/**
 * Each table's name in the definition: its own, made plain and lower-case
 * (`"User"` is user, `"OrderItem"` order_item), with its schema before it
 * where two tables would share one (public.users and auth.users).
 */
export function entityNames(tables: readonly CatalogTable[]): Map<string, string> {
  const plain = (text: string) => {
    const words =
      wordsOf(text)
        .slice(1, -1)
        .replace(/^_+|_+$/g, '') || 'table';
    return /^[a-z_]/.test(words) ? words : `t_${words}`;
  };
  const names = new Map<string, string>();
  const taken = new Map<string, number>();
  for (const t of tables) taken.set(plain(t.name), (taken.get(plain(t.name)) ?? 0) + 1);
  const used = new Set<string>();
  for (const t of tables) {
    let name = taken.get(plain(t.name))! > 1 ? `${plain(t.schema)}_${plain(t.name)}` : plain(t.name);
    for (let n = 2; used.has(name); n++) name = `${name}_${n}`;
    used.add(name);
    names.set(t.key, name);
  }
  return names;
}
