import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/**
 * Real applications' published schemas (test/fixtures/schemas/<app>/, each
 * with SOURCE.md naming its repository and commit, and EDITS.md every edit
 * made to load it), loaded the way the application itself loads them. Every
 * file is checked against its SHA256SUMS first: the fixtures are the
 * published bytes, never a schema "modeled on" them.
 */
export type PublishedSchema = 'openstreetmap' | 'synapse' | 'documenso' | 'supabase' | 'lemmy' | 'listmonk';

const ROOT = new URL('../fixtures/schemas/', import.meta.url).pathname;

function verified(app: PublishedSchema, file: string): string {
  const dir = path.join(ROOT, app);
  const sums = new Map(
    readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(66), line.slice(0, 64)] as const),
  );
  const bytes = readFileSync(path.join(dir, file));
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sums.get(file) !== sum)
    throw new Error(`${app}/${file}: not the published file (sha256 ${sum}, SHA256SUMS says ${sums.get(file)})`);
  return bytes.toString('utf8');
}

/** Runs one file's statements as one transaction, on a connection whose search_path is `searchPath` (the application's own when unset). */
async function run(client: pg.Client, sql: string, searchPath?: string): Promise<void> {
  await client.query('begin');
  if (searchPath) await client.query(`set local search_path = ${searchPath}`);
  await client.query(sql);
  await client.query('commit');
}

/** Loads `app`'s schema into the (empty) database at `url`, as the application does; EDITS.md says what differs. */
export async function loadPublishedSchema(url: string, app: PublishedSchema): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`set client_min_messages = warning`);
    if (app === 'openstreetmap') {
      // Without PostGIS (EDITS.md, edits.sed): the extension's two lines go, the one geometry column becomes text.
      const sql = verified(app, 'structure.sql')
        .replace(/^CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;$/m, '')
        .replace(/^COMMENT ON EXTENSION postgis IS .*$/m, '')
        .replace(/^ {4}zone public\.geometry\(Polygon,4326\) NOT NULL,$/m, '    zone text NOT NULL,');
      await run(client, sql);
      // pg_dump's preamble empties this session's search_path; the application's sessions keep theirs.
    } else if (app === 'synapse') {
      // The full schema of version 72, then every SQL delta to version 94 in the order Synapse applies them (deltas/ORDER),
      // with the one substitution its PostgresEngine makes (deltas.sed); its 9 Python deltas are not run (EDITS.md).
      for (const file of ['common.full.sql.postgres', 'main.full.sql.postgres', 'state.full.sql.postgres'])
        await run(client, verified(app, file));
      for (const file of readFileSync(path.join(ROOT, app, 'deltas', 'ORDER'), 'utf8')
        .trim()
        .split('\n')) {
        await run(
          client,
          verified(app, file).replaceAll(
            '$%AUTO_INCREMENT_PRIMARY_KEY%$',
            'BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY',
          ),
        );
      }
    } else if (app === 'lemmy') {
      // As lemmy_server does (crates/db_schema/src/schema_setup.rs): each migration in its own transaction, then the
      // replaceable schema r, made anew, in one.
      const dir = path.join(ROOT, app, 'migrations');
      for (const migration of readdirSync(dir).sort())
        await run(client, verified(app, `migrations/${migration}/up.sql`));
      const replaceable = ['utils.sql', 'triggers.sql'].map((f) => verified(app, `replaceable_schema/${f}`)).join('\n');
      await run(client, `DROP SCHEMA IF EXISTS r CASCADE;\nCREATE SCHEMA r;\n${replaceable}`);
    } else if (app === 'listmonk') {
      await run(client, verified(app, 'schema.sql'));
    } else if (app === 'documenso') {
      // One transaction per migration, in directory order, as `prisma migrate deploy` does.
      for (const dir of readdirSync(path.join(ROOT, app, 'migrations'))
        .filter((d) => !d.includes('.'))
        .sort()) {
        await run(client, verified(app, `migrations/${dir}/migration.sql`));
      }
    } else {
      // The auth server's migrations, rendered for the schema "auth" (auth.sed), with its search_path; then the app's in public.
      await run(client, readFileSync(path.join(ROOT, app, 'preamble.sql'), 'utf8'));
      for (const file of readdirSync(path.join(ROOT, app, 'auth-migrations')).sort()) {
        await run(
          client,
          verified(app, `auth-migrations/${file}`).replace(/\{\{ *index \.Options "Namespace" *\}\}/g, 'auth'),
          'auth',
        );
      }
      for (const file of readdirSync(path.join(ROOT, app, 'app')).sort())
        await run(client, verified(app, `app/${file}`));
    }
  } finally {
    await client.end();
  }
}
