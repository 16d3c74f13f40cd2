import { execFileSync } from 'node:child_process';
import { connect } from '../../src/db/connect.ts';
import { checkedDefinition } from '../../src/definition/checked-definition.ts';
import { SAMPLE_FILES_DEFINITION } from './sample-data.ts';

/**
 * The floor a run is measured against: what the database alone costs, psql
 * `\copy` of the same rows of every entity (JSON and CSV) to /dev/null.
 */
export async function copyFloor(databaseUrl: string, userId: string): Promise<number> {
  const user = `'${userId}'::uuid`;
  const statements: string[] = [];
  const handle = connect({ url: databaseUrl, maxConnections: 1 });
  const { entities } = await checkedDefinition(handle.db, SAMPLE_FILES_DEFINITION).finally(() => handle.close());
  for (const e of entities) {
    const cols = e.columns
      .map((c) => `${(c.sql ?? `t.${c.name}`).replaceAll(':user', user)} as "${c.name}"`)
      .join(', ');
    const select = `select ${cols} from ${e.from.replaceAll(':user', user)}`.replace(/\s+/g, ' ');
    statements.push(`\\copy (${select}) to '/dev/null' with (format csv, header)`);
    statements.push(`\\copy (select row_to_json(r) from (${select}) r) to '/dev/null'`);
  }
  const started = performance.now();
  try {
    execFileSync('psql', [databaseUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1'], {
      input: statements.join('\n'),
      stdio: ['pipe', 'ignore', 'inherit'],
    });
  } catch (error) {
    throw new Error(`the floor needs psql on PATH (apt-get install postgresql-client): ${error}`);
  }
  return (performance.now() - started) / 1000;
}
