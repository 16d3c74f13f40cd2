import { ENTITIES } from './entities.ts';
import type { Manifest } from './manifest.ts';

const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

/** README.txt: plain words for the person who downloads the archive. */
export function readmeText(manifest: Manifest): string {
  const lines: string[] = [
    'YOUR DATA EXPORT',
    '================',
    '',
    `This archive holds a copy of the data of your account, as it was on ${utc(manifest.as_of)}.`,
    `The download link for it stops working on ${utc(manifest.link_expires_at)}; after that, ask for a new export.`,
    '',
    'Every kind of data comes twice:',
    '  json/  the exact copy: one JSON array of objects per file. Dates and times are',
    '         ISO 8601 in UTC with microseconds; extra data ("metadata") is nested JSON;',
    '         large numbers are written with all their digits.',
    '  csv/   the same rows for a spreadsheet: UTF-8 with a byte order mark, a header row,',
    '         and extra data as JSON text. A text cell that a spreadsheet would run as a',
    '         formula (one starting with =, +, -, @, a tab or a carriage return) starts',
    "         with an apostrophe (') in the CSV so that opening it is safe; the JSON files",
    '         hold the text unchanged. Numbers are left as they are.',
    'A very large kind of data is split into numbered parts (for example',
    'json/pipeline_runs-0001.json, json/pipeline_runs-0002.json); the JSON and CSV parts',
    'with the same number hold the same rows.',
    '',
    'WHAT EACH FILE HOLDS',
    '--------------------',
  ];
  for (const entity of ENTITIES) {
    const info = manifest.entities[entity.name];
    lines.push('', `${entity.name}: ${entity.description} (${info?.rows ?? 0} rows)`);
    for (const file of info?.files ?? []) lines.push(`  file ${file.path}`);
    for (const column of entity.columns) lines.push(`  - ${column.name}: ${column.description}`);
  }
  lines.push(
    '',
    'CHECKING THE FILES',
    '------------------',
    'manifest.json lists every file with its size in bytes and its SHA-256 checksum.',
    'To check a file, compute its checksum and compare:',
    '  macOS, Linux:  shasum -a 256 json/users.json',
    '  Windows:       Get-FileHash json\\users.json -Algorithm SHA256   (in PowerShell)',
    '',
    `Request ${manifest.request_id}, made by exporter ${manifest.exporter_version} (schema ${manifest.schema_version}).`,
    '',
  );
  return lines.join('\n');
}
