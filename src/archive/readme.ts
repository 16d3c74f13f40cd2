import type { Manifest, UserFileRecord } from '../model/archive.ts';
import { PROCESSING_FIELDS } from '../model/definition.ts';
import type { ExportEntity } from '../model/entities.ts';
import { oneLine } from '../model/one-line.ts';

/** README.txt names at most this many files that are not in the archive (manifest.json lists them all). */
const LISTED_AT_MOST = 1_000;

const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

/** README.txt: plain words for the person who downloads the archive. */
export function readmeText(manifest: Manifest, entities: readonly ExportEntity[]): string {
  return [
    ...opening(manifest),
    ...formats(manifest),
    ...dictionary(manifest, entities),
    ...processingSection(entities),
    ...filesSection(manifest),
    ...checking(manifest),
  ].join('\n');
}

/** What the archive is, how to open it, and until when its link works. */
function opening(manifest: Manifest): string[] {
  return [
    'YOUR DATA EXPORT',
    '================',
    '',
    ...(manifest.viewer
      ? [
          'To look through your data: unzip this archive (on Windows: right-click it, then',
          '"Extract All"), then open index.html in the folder it makes, with a double-click.',
          'It opens in your web browser and works offline: nothing is sent anywhere.',
          '',
        ]
      : []),
    `This archive holds a copy of the data of your account, as it was on ${utc(manifest.as_of)}.`,
    `The download link for it stops working on ${utc(manifest.link_expires_at)}; after that, ask for a new export.`,
    '',
  ];
}

/** What json/, csv/ and files/ hold, and how a spreadsheet shows them. */
function formats(manifest: Manifest): string[] {
  return [
    'Every kind of data comes twice:',
    '  json/  the exact copy: one JSON array of objects per file. Dates and times are',
    '         ISO 8601 in UTC with microseconds; extra data ("metadata") is nested JSON;',
    '         large numbers are written with all their digits.',
    '  csv/   the same rows for a spreadsheet: UTF-8 with a byte order mark, a header row,',
    '         every text in double quotes, and extra data as JSON text. Opening them is',
    '         safe: no cell runs as a formula and no cell is split in two.',
    '         What a spreadsheet shows may differ from the JSON, which is the exact copy:',
    '         - Text that starts with =, +, -, @, a tab or a carriage return (also after',
    "           spaces) starts with an apostrophe ('), so it is never run as a formula.",
    "           A phone number such as +15551234567 shows as '+15551234567: without the",
    '           apostrophe the spreadsheet would turn it into a number and drop the +.',
    '         - Numbers are numbers. A spreadsheet keeps 15 significant digits, so a',
    '           longer number (an id, a large count) shows rounded; text that looks like',
    '           a number (007, -12.5) may show as one, without its leading zeros.',
    '         - Dates and times are text in ISO 8601 (2024-04-05T06:07:08.123456Z), in UTC.',
    '         - Yes-or-no values are t (yes) and f (no); in the JSON, true and false.',
    '         - A cell holds at most 32,767 characters in Excel (65,535 in LibreOffice);',
    '           longer text is cut there. Control characters cannot appear in a cell.',
    ...filesFolder(manifest),
    ...splitParts(manifest),
    '',
  ];
}

/** Each kind of data: its files, its rows, and what each column means. */
function dictionary(manifest: Manifest, entities: readonly ExportEntity[]): string[] {
  const lines = ['WHAT EACH FILE HOLDS', '--------------------'];
  for (const entity of entities) {
    const info = manifest.entities[entity.name];
    const rows = info?.rows ?? 0;
    lines.push('', `${entity.name}: ${entity.description} (${rows} ${rows === 1 ? 'row' : 'rows'})`);
    for (const file of info?.files ?? []) lines.push(`  file ${file.path}`);
    // A relation the database does not state (no foreign key), which the definition declares: said, for whoever checks the answer.
    if (entity.declared)
      lines.push(
        `  (These rows are yours by a relation the database does not record itself; the exporter was told: ${entity.declared})`,
      );
    for (const column of entity.columns) lines.push(`  - ${oneLine(column.name)}: ${column.description}`);
  }
  return lines;
}

/** How to check a file against manifest.json, and which request and version made the archive. */
function checking(manifest: Manifest): string[] {
  return [
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
  ];
}

/** files/, said only where the archive has one. */
function filesFolder(manifest: Manifest): string[] {
  if (manifest.file_counts.included === 0) return [];
  return [
    '  files/ the files you uploaded, each byte for byte as it was stored, in a folder',
    '         per kind of data and per row: files/<kind>/<id>/<file name>. The row',
    '         says where its file is (as the list below says).',
  ];
}

/** How a kind of data split into parts is named, said only where one is, with its own names. */
function splitParts(manifest: Manifest): string[] {
  const split = Object.values(manifest.entities)
    .map((e) => e.files.map((f) => f.path).filter((p) => /^json\/.*-\d{4}\.json$/.test(p)))
    .find((parts) => parts.length > 1);
  if (!split) return [];
  return [
    `A very large kind of data is split into numbered parts (here ${split[0]}, ${split[1]}, …);`,
    'the JSON and CSV parts with the same number hold the same rows.',
  ];
}

/** GDPR Art. 15(1): why each kind of data is used, on what basis, who gets it, how long it is kept, where it came from. */
function processingSection(entities: readonly ExportEntity[]): string[] {
  const described = entities.filter((e) => e.processing);
  if (described.length === 0) return [];
  const lines = ['', 'HOW THIS DATA IS USED', '---------------------'];
  for (const entity of described) {
    lines.push('', `${entity.name}:`);
    for (const f of PROCESSING_FIELDS) {
      const value = entity.processing![f.key];
      if (value === undefined) continue;
      lines.push(`  ${f.title}: ${Array.isArray(value) ? value.join('; ') : value}`);
    }
  }
  return lines;
}

const WHY: Record<Exclude<UserFileRecord['outcome'], 'included'>, string> = {
  missing: 'no longer exists in our storage',
  too_large: 'is too large to put in an archive',
  failed: 'could not be read from our storage',
};

/** Your files: how many are here, and in plain words which are not and why. */
function filesSection(manifest: Manifest): string[] {
  const counts = manifest.file_counts;
  const total = counts.included + counts.missing + counts.too_large + counts.failed;
  if (total === 0) return [];
  const lines = [
    '',
    'YOUR FILES',
    '----------',
    `${counts.included} of your ${total} files are in this archive, in files/.`,
  ];
  const notHere = manifest.files.filter((f) => f.outcome !== 'included');
  if (notHere.length === 0) return lines;
  lines.push(
    `${notHere.length} ${notHere.length === 1 ? 'is' : 'are'} NOT in it. Where a row points at one of these, its file`,
    'column is empty. Ask us if you need them:',
  );
  for (const f of notHere.slice(0, LISTED_AT_MOST))
    lines.push(`  ${f.path}: ${WHY[f.outcome as keyof typeof WHY]} (${f.reason ?? f.outcome})`);
  if (notHere.length > LISTED_AT_MOST)
    lines.push(`  … and ${notHere.length - LISTED_AT_MOST} more; manifest.json lists every one.`);
  return lines;
}
