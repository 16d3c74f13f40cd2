import { ENTITIES } from '../src/export/entities.ts';
import { csvCopySql, jsonLinesCopySql } from '../src/export/queries.ts';
const u = process.argv[2]!;
const e = ENTITIES.find((x) => x.name === 'pipeline_runs')!;
const user = `'${u}'::uuid`;
const cols = e.columns.map((c) => `${(c.sql ?? `t.${c.name}`).replaceAll(':user', user)} as "${c.name}"`).join(', ');
const select = `select ${cols} from ${e.from.replaceAll(':user', user)}`.replace(/\s+/g, ' ');
const out = {
  floorCsv: `\\copy (${select}) to '/dev/null' with (format csv, header)`,
  floorJson: `\\copy (select row_to_json(r) from (${select}) r) to '/dev/null'`,
  ourJson: jsonLinesCopySql(e, u).replace(/^copy/, '\\copy').replace('to stdout', "to '/dev/null'").replace(/\s+/g, ' '),
  ourCsv: csvCopySql(e, u).replace(/^copy/, '\\copy').replace('to stdout', "to '/dev/null'").replace(/\s+/g, ' '),
};
for (const [k, v] of Object.entries(out)) console.log(`\\echo ${k}\n${v}`);
const noOrder = (s: string) => s.replace(/ order by t\.project_id, t\.number, t\.id/, '');
console.log(`\\echo ourJsonNoOrder\n${noOrder(out.ourJson)}\n\\echo ourCsvNoOrder\n${noOrder(out.ourCsv)}`);
