import type { Definition, EntityRule, FileRule } from '../model/definition.ts';
import type { DeletedWith, ErasedColumn, ErasedFiles, ErasureEntity, ErasurePlan } from '../model/erasure.ts';
import { quoteIdent as q, textLiteral } from '../model/identifiers.ts';
import { type Catalog, type CatalogTable, findTable } from './catalog.ts';
import { userKeyColumn } from './check.ts';
import { pointedAtByParent } from './check-erase.ts';
import { membersReference, throughReferences } from './check-relations.ts';
import { prefixSql } from './resolve.ts';

/**
 * A checked definition's erase rules, resolved against the live catalog into
 * what an erasure does, entity by entity, in the order it does it. Which rows
 * are the person's alone is narrower than what their export reads: a row
 * another person also owns (a message's other side), a shared thing the
 * person is a member of, and what hangs from such a row are never theirs to
 * erase; only their own reference in it changes.
 */
export function resolveErasure(def: Definition, catalog: Catalog): ErasurePlan {
  const users = findTable(catalog, def.userTable)!;
  const userKey = userKeyColumn(def, catalog)!;
  const keyType = users.columns.get(userKey)!.sqlType;
  const resolver = new ErasureResolver(def, catalog, users);
  const entities = def.entities.map((e) => resolver.entity(e));
  // The ghost is the definition's (the operator's text, never a user's), written as an escape literal.
  const ghost = def.erasure?.ghostUser;
  const typed = (sql: string) =>
    sql
      .replaceAll(':user', `(:user)::${keyType}`)
      .replaceAll(':ghost', ghost === undefined ? 'null' : `(${textLiteral(ghost)})::${keyType}`);
  const depth = (e: EntityRule): number =>
    e.through ? 1 + depth(def.entities.find((p) => p.name === e.through!.entity)!) : 0;
  const order = def.entities
    .map((rule, i) => ({ rule, entity: entities[i]!, i }))
    // What hangs from other rows first, deepest first; the person's own row last.
    .sort(
      (a, b) => Number(a.entity.isUserRow) - Number(b.entity.isUserRow) || depth(b.rule) - depth(a.rule) || b.i - a.i,
    )
    .map(({ entity }) => ({
      ...entity,
      scope: entity.scope === null ? null : typed(entity.scope),
      ...(entity.shared ? { shared: { ...entity.shared, where: typed(entity.shared.where) } } : {}),
      ...(entity.memberships ? { memberships: { ...entity.memberships, where: typed(entity.memberships.where) } } : {}),
      ...(entity.references ? { references: entity.references.map((r) => ({ ...r, where: typed(r.where) })) } : {}),
    }));
  return {
    entities: order,
    keyType,
    ...(def.erasure?.ghostUser !== undefined ? { ghostUser: def.erasure.ghostUser } : {}),
    users: { table: users.key, key: q(userKey) },
  };
}

class ErasureResolver {
  private readonly def: Definition;
  private readonly catalog: Catalog;
  private readonly users: CatalogTable;

  constructor(def: Definition, catalog: Catalog, users: CatalogTable) {
    this.def = def;
    this.catalog = catalog;
    this.users = users;
  }

  entity(rule: EntityRule): ErasureEntity {
    const table = findTable(this.catalog, rule.table)!;
    const erase = rule.erase!;
    const { bound, elsewhere } = this.files(rule);
    const deletesWith = erase.kind === 'delete' ? this.deletedWith(rule) : [];
    return {
      name: rule.name,
      table: table.key,
      key: table.primaryKey.map(q),
      keyTypes: table.primaryKey.map((c) => table.columns.get(c)!.sqlType),
      rule: erase.kind,
      ...(erase.kind === 'keep' ? { why: erase.why } : {}),
      columns:
        erase.kind === 'anonymize'
          ? Object.entries(erase.columns).map(([name, strategy]) => erased(table, name, strategy))
          : [],
      scope: this.scope(rule, 't'),
      ...this.shared(rule, table),
      ...this.references(rule, table),
      ...this.memberships(rule),
      files: bound,
      filesElsewhere: elsewhere,
      isUserRow: table.key === this.users.key,
      ...(deletesWith.length > 0 ? { deletesWith } : {}),
      ...(this.goesWithParent(rule) ? { withParent: true } : {}),
    };
  }

  /** A deleted entity's children that its rows point at, deleted with them (and theirs with theirs). */
  private deletedWith(parentRule: EntityRule): DeletedWith[] {
    const parent = findTable(this.catalog, parentRule.table)!;
    return this.def.entities
      .filter((c) => c.through?.entity === parentRule.name && this.goesWithParent(c))
      .map((c) => {
        const table = findTable(this.catalog, c.table)!;
        return {
          entity: c.name,
          table: table.key,
          parentTable: parent.key,
          columns: c.through!.columns,
          types: c.through!.columns.map((column) => table.columns.get(column)!.sqlType),
          refs: throughReferences(c, table, parent, this.catalog)!,
          andThen: this.deletedWith(c),
        };
      });
  }

  /** Deleted, as its parent is, and pointed at by its parent's rows: its rows go with the parent's. */
  private goesWithParent(rule: EntityRule): boolean {
    const parentRule = rule.through ? this.def.entities.find((p) => p.name === rule.through!.entity) : undefined;
    return (
      rule.erase?.kind === 'delete' &&
      parentRule?.erase?.kind === 'delete' &&
      pointedAtByParent(rule, parentRule, this.catalog)
    );
  }

  /** SQL over `alias`: the row is the person's alone; null where none is (a shared thing). */
  scope(rule: EntityRule, alias: string): string | null {
    if (rule.through) {
      const parentRule = this.def.entities.find((p) => p.name === rule.through!.entity)!;
      const parent = findTable(this.catalog, parentRule.table)!;
      const table = findTable(this.catalog, rule.table)!;
      const parentScope = this.scope(parentRule, 'p');
      if (parentScope === null) return null;
      const references = throughReferences(rule, table, parent, this.catalog)!;
      const mine = `select ${references.map((c) => `p.${q(c)}`).join(', ')} from ${parent.key} p where ${parentScope}`;
      const columns = rule.through.columns.map((c) => `${alias}.${q(c)}`);
      return columns.length === 1 ? `${columns[0]} in (${mine})` : `(${columns.join(', ')}) in (${mine})`;
    }
    if (!rule.owner) return null;
    const owners = rule.owner.columns.map((c) => `${alias}.${q(c)}`);
    // Theirs by one owner column, and every other owner column empty, theirs too, or the ghost's (the other side
    // erased before: else a message between two erased people would outlive both).
    const orGhost = (c: string) => (this.def.erasure?.ghostUser === undefined ? '' : ` or ${c} = :ghost`);
    const owned =
      owners.length === 1
        ? `${owners[0]} = :user`
        : `(${owners.map((c) => `${c} = :user`).join(' or ')}) and ${owners.map((c) => `(${c} is null or ${c} = :user${orGhost(c)})`).join(' and ')}`;
    // A thing they own that has other members is shared: it stays, with their reference in it changed.
    const others = this.otherMembers(rule, alias);
    return others ? `${owned} and not ${others}` : owned;
  }

  /** SQL over `alias`: the row (of a members entity) has a member other than the person. */
  private otherMembers(rule: EntityRule, alias: string): string | undefined {
    if (!rule.members) return undefined;
    const m = rule.members;
    const table = findTable(this.catalog, rule.table)!;
    const members = findTable(this.catalog, m.table)!;
    const reference = membersReference(rule, table, members, this.catalog)!;
    const notGhost = this.def.erasure?.ghostUser === undefined ? '' : ` and om.${q(m.userColumn)} <> :ghost`;
    return `exists (select 1 from ${members.key} om where om.${q(m.column)} = ${alias}.${q(reference)} and om.${q(m.userColumn)} <> :user${notGhost})`;
  }

  /**
   * Rows the person shares with another (a message between two, a project
   * they own that has other members): the person's owner columns there
   * become the ghost's key, or null.
   */
  private shared(rule: EntityRule, table: CatalogTable): { shared?: ErasureEntity['shared'] } {
    if (!rule.owner || rule.through || (rule.owner.columns.length < 2 && !rule.members)) return {};
    const ghost = this.def.erasure?.ghostUser !== undefined;
    const owners = rule.owner.columns.map((c) => `t.${q(c)}`);
    return {
      shared: {
        where: `(${owners.map((c) => `${c} = :user`).join(' or ')}) and not (${this.scope(rule, 't')})`,
        columns: rule.owner.columns.map((c) => erased(table, c, ghost ? { kind: 'ghost' } : { kind: 'null' })),
      },
    };
  }

  /** Columns other than the owner's with a foreign key to the person's user row: their reference goes wherever the row stays. */
  private references(rule: EntityRule, table: CatalogTable): { references?: ErasureEntity['references'] } {
    const userKey = userKeyColumn(this.def, this.catalog)!;
    const owners = new Set(rule.owner?.columns ?? []);
    const columns = this.catalog.foreignKeys
      .filter(
        (f) =>
          f.table === table.key &&
          f.refTable === this.users.key &&
          f.columns.length === 1 &&
          f.refColumns[0] === userKey,
      )
      .map((f) => f.columns[0]!)
      .filter((c) => !owners.has(c));
    if (columns.length === 0) return {};
    const ghost = this.def.erasure?.ghostUser !== undefined;
    const scope = this.scope(rule, 't');
    return {
      references: columns.map((c) => ({
        where: `t.${q(c)} = :user${scope === null ? '' : ` and not (${scope})`}`,
        columns: [erased(table, c, ghost ? { kind: 'ghost' } : { kind: 'null' })],
      })),
    };
  }

  private memberships(rule: EntityRule): { memberships?: ErasureEntity['memberships'] } {
    if (!rule.members) return {};
    const members = findTable(this.catalog, rule.members.table)!;
    return { memberships: { table: members.key, where: `t.${q(rule.members.userColumn)} = :user` } };
  }

  /** The file rules whose objects an erasure deletes (an S3 source, keys bound by a prefix), and those it cannot. */
  private files(rule: EntityRule): { bound: ErasedFiles[]; elsewhere: string[] } {
    const bound: ErasedFiles[] = [];
    const elsewhere: string[] = [];
    for (const f of rule.files) {
      const source = this.def.fileSources[f.source];
      if (source?.kind === 's3' && f.key && f.ownedPrefix !== undefined) bound.push(boundFiles(f));
      else elsewhere.push(f.name);
    }
    return { bound, elsewhere };
  }
}

function erased(table: CatalogTable, name: string, strategy: ErasedColumn['strategy']): ErasedColumn {
  return { column: q(name), name, strategy, sqlType: table.columns.get(name)!.sqlType };
}

function boundFiles(f: FileRule): ErasedFiles {
  const locator = `t.${q(f.key!)}`;
  return {
    name: f.name,
    source: f.source,
    locator,
    owned: `coalesce(starts_with(${locator}, ${prefixSql(f.ownedPrefix!)}), false)`,
  };
}
