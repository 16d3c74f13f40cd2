import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { TestEnv } from './harness.ts';

/**
 * Empty databases on the suite's server, for tests of an application that
 * is not the sample (the harness's database holds the sample): each with
 * its URL, a pool on it, and the CLI's environment pointed at it with no
 * definition set. `close()` ends their pools.
 */
export class FreshDatabases {
  private readonly pools: pg.Pool[] = [];
  private readonly env: TestEnv;

  constructor(env: TestEnv) {
    this.env = env;
  }

  async create() {
    const name = `a_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const root = new pg.Client({ connectionString: inject('databaseUrl') });
    await root.connect();
    await root.query(`create database ${name}`);
    await root.end();
    const url = new URL(inject('databaseUrl'));
    url.pathname = `/${name}`;
    const db = new pg.Pool({ connectionString: url.toString(), max: 2 });
    this.pools.push(db);
    const { EXPORT_DEFINITION: _sampleWithFiles, EXPORT_SOURCE_UPLOADS_BUCKET: _uploads, ...cliEnv } = this.env.cliEnv;
    return { url: url.toString(), db, cliEnv: { ...cliEnv, DATABASE_URL: url.toString() } };
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.end()));
  }
}
