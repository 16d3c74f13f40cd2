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
  for (const entity of await entitySelects(databaseUrl)) {
    const select = entity.replaceAll(':user', user);
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

/** Each entity's rows as the exporter selects them (the sample definition), with `:user` where the person's id goes. */
export async function entitySelects(databaseUrl: string): Promise<string[]> {
  const handle = connect({ url: databaseUrl, maxConnections: 1 });
  const { entities } = await checkedDefinition(handle.db, SAMPLE_FILES_DEFINITION).finally(() => handle.close());
  return entities.map((e) => {
    const cols = e.columns.map((c) => `${c.sql ?? `t.${c.name}`} as "${c.name}"`).join(', ');
    return `select ${cols} from ${e.from}`.replace(/\s+/g, ' ');
  });
}
