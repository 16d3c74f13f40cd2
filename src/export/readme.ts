import type { ExportEntity } from './entities.ts';
import type { Manifest } from './manifest.ts';

const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

/** README.txt: plain words for the person who downloads the archive. */
export function readmeText(manifest: Manifest, entities: readonly ExportEntity[]): string {
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
    '         every text in double quotes, and extra data as JSON text. Opening them is',
    '         safe: no cell runs as a formula and no cell is split in two.',
    '         What a spreadsheet shows may differ from the JSON, which is the exact copy:',
    "         - Text that starts with =, +, -, @, a tab or a carriage return (also after",
    "           spaces) starts with an apostrophe ('), so it is never run as a formula.",
    "           A phone number such as +15551234567 shows as '+15551234567: without the",
    '           apostrophe the spreadsheet would turn it into a number and drop the +.',
    '         - Numbers are numbers. A spreadsheet keeps 15 significant digits, so a',
    '           longer number (an id, a large count) shows rounded; text that looks like',
    '           a number (007, -12.5) may show as one, without its leading zeros.',
    '         - Dates and times are text in ISO 8601 (2024-04-05T06:07:08.123456Z), in UTC.',
    '         - A cell holds at most 32,767 characters in Excel (65,535 in LibreOffice);',
    '           longer text is cut there. Control characters cannot appear in a cell.',
    'A very large kind of data is split into numbered parts (for example',
    'json/pipeline_runs-0001.json, json/pipeline_runs-0002.json); the JSON and CSV parts',
    'with the same number hold the same rows.',
    '',
    'WHAT EACH FILE HOLDS',
    '--------------------',
  ];
  for (const entity of entities) {
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
