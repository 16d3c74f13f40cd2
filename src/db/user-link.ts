import { sql } from 'kysely';
import type { UserTable } from '../model/entities.ts';
import { quoteIdent } from '../model/identifiers.ts';
import { userIdTextSql } from '../model/user-id.ts';
import type { Db } from './connect.ts';

/**
 * The exporter's link to the application's user table, which the
 * definition names (`user_table`, `user_key`): made by `exporter migrate`,
 * remade when the definition names another table or key. It is all the
 * exporter's own objects, attached to the user table without changing it:
 *
 * - exporter_user_key(text): the key's canonical text (the text cast to the
 *   key's type and back), or null when it is not a key of that type; a
 *   request's user_id must be canonical (a check), so that '042' and '42'
 *   are one user and the rate limit holds;
 * - exporter_user_exists(text): whether a user has that key (the intake);
 * - a trigger on the user table that deletes a deleted user's requests, as
 *   the foreign key's cascade did before user_id could be any key type (the
 *   deleted requests' archives are remembered and deleted by `expire`);
 * - data_export_user_link: which table and key it is linked to, so that
 *   fulfill refuses to build for another (DriftError) until migrate relinks.
 *
 * The table is its quoted, schema-qualified name and the key quoted (any
 * name, any schema: src/model/identifiers.ts); the type is the catalog's own
 * format_type. The link records the table so (an earlier version recorded a
 * plain name, which migrate relinks).
 */
export async function linkUserTable(db: Db, user: UserTable): Promise<void> {
  const { table, keyType } = user;
  const idColumn = quoteIdent(user.idColumn);
  await db.transaction().execute(async (tx) => {
    await sql`create table if not exists data_export_user_link (
      only_one boolean primary key default true check (only_one),
      user_table text not null,
      user_key text not null,
      key_type text not null,
      linked_at timestamptz not null default now())`.execute(tx);
    const previous = (await sql<{ userTable: string }>`select user_table from data_export_user_link`.execute(tx))
      .rows[0];
    if (previous && previous.userTable !== table) {
      await sql
        .raw(`drop trigger if exists exporter_user_deleted on ${previous.userTable}`)
        .execute(tx)
        .catch(() => {});
    }
    await sql
      .raw(`
      create or replace function exporter_user_key(p_user_id text) returns text
      language plpgsql immutable as $$
      declare
        canonical text;
      begin
        canonical := (p_user_id::${keyType})::text;
        -- What text can be a user id at all (src/model/user-id.ts): the worker refuses anything else, so the database does too.
        return case when ${userIdTextSql('canonical')} then canonical end;
      exception when others then
        return null; -- not a key of this type: '12x' for an integer key, 'abc' for a uuid
      end
      $$;

      create or replace function exporter_user_exists(p_user_id text) returns boolean
      language sql stable as $$
        select exists (select 1 from ${table} u where u.${idColumn} = p_user_id::${keyType})
      $$;

      create or replace function exporter_user_deleted() returns trigger
      language plpgsql as $$
      begin
        delete from data_export_requests where user_id = (old.${idColumn})::text;
        return old;
      end
      $$;

      drop trigger if exists exporter_user_deleted on ${table};
      create trigger exporter_user_deleted after delete on ${table}
        for each row execute function exporter_user_deleted();

      -- Names are looked up in PostgreSQL's catalog first, then the exporter's schema: never in one a role put first on its search_path.
      do $$
      begin
        execute format('alter function exporter_user_key(text) set search_path = pg_catalog, %I, pg_temp', current_schema());
        execute format('alter function exporter_user_exists(text) set search_path = pg_catalog, %I, pg_temp', current_schema());
        execute format('alter function exporter_user_deleted() set search_path = pg_catalog, %I, pg_temp', current_schema());
      end
      $$;

      alter table data_export_requests drop constraint if exists data_export_requests_user_id_canonical;
      -- Not validated against the rows already there (a request of a table linked before keeps its text).
      alter table data_export_requests add constraint data_export_requests_user_id_canonical
        check (exporter_user_key(user_id) is not distinct from user_id) not valid;`)
      .execute(tx);
    await sql`insert into data_export_user_link (user_table, user_key, key_type) values (${table}, ${user.idColumn}, ${keyType})
              on conflict (only_one) do update set user_table = excluded.user_table, user_key = excluded.user_key, key_type = excluded.key_type, linked_at = now()`.execute(
      tx,
    );
  });
}

/** What to tell whoever runs a command that needs the link, on a database `exporter migrate` has not linked yet. */
export const NOT_LINKED =
  'the exporter is not linked to a user table yet: run EXPORT_DEFINITION=<your definition> exporter migrate (exporter init drafts one; docs/adopting.md)';

/** What the exporter is linked to, or undefined when `exporter migrate` has not linked it yet. */
export async function userLink(db: Db): Promise<{ userTable: string; userKey: string; keyType: string } | undefined> {
  const exists = await sql<{ t: string | null }>`select to_regclass('data_export_user_link')::text as t`.execute(db);
  if (!exists.rows[0]?.t) return undefined;
  return (
    await sql<{
      userTable: string;
      userKey: string;
      keyType: string;
    }>`select user_table, user_key, key_type from data_export_user_link`.execute(db)
  ).rows[0];
}
