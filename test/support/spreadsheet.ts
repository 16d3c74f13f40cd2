import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SheetCell {
  /** string, float, date, … as the spreadsheet typed it. */
  type: string;
  /** The cell's text, as shown. */
  text: string;
  /** office:value (numbers) or office:date-value (dates). */
  value?: string;
  /** Set when the spreadsheet turned the cell into a formula. */
  formula?: string;
}

/**
 * LibreOffice Calc's import settings at their most dangerous: split on comma,
 * semicolon and tab (its Text Import dialog's defaults), trim spaces, detect
 * special numbers, and evaluate formulas. Tokens, in order: separators, text
 * delimiter ("), charset (UTF-8), first line, cell formats, language (en-US),
 * quoted field as text, detect special numbers, -, -, trim spaces, -, evaluate formulas.
 */
export const HOSTILE_CSV_IMPORT = 'CSV:44/59/9,34,76,1,,1033,false,true,false,false,true,-1,true';

/**
 * Opens each CSV file in LibreOffice Calc (headless) as a person would, and
 * returns what the spreadsheet made of it: per file, rows of typed cells.
 * Calc saves it as flat OpenDocument XML, which holds each cell's type,
 * value and formula.
 */
export async function openInCalc(files: Map<string, Buffer>): Promise<Map<string, SheetCell[][]>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'exporter-calc-'));
  try {
    const inputs: string[] = [];
    for (const [name, bytes] of files) {
      const file = path.join(dir, name.replaceAll('/', '__'));
      await writeFile(file, bytes);
      inputs.push(file);
    }
    await run(
      'soffice',
      [
        '--headless',
        '--norestore',
        `-env:UserInstallation=file://${dir}/profile`,
        `--infilter=${HOSTILE_CSV_IMPORT}`,
        '--convert-to',
        'fods',
        '--outdir',
        path.join(dir, 'out'),
        ...inputs,
      ],
      { timeout: 120_000 },
    );
    const sheets = new Map<string, SheetCell[][]>();
    for (const [name] of files) {
      const out = path.join(dir, 'out', `${name.replaceAll('/', '__').replace(/\.csv$/, '')}.fods`);
      sheets.set(name, parseFlatOds(await readFile(out, 'utf8')));
    }
    return sheets;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first table of a flat ODS document as rows of cells (repeated empty cells expanded, trailing ones dropped). */
export function parseFlatOds(xml: string): SheetCell[][] {
  const table = xml.slice(xml.indexOf('<table:table '), xml.indexOf('</table:table>'));
  const rows: SheetCell[][] = [];
  for (const [, rowAttrs, rowBody] of table.matchAll(/<table:table-row([^>]*)>([\s\S]*?)<\/table:table-row>/g)) {
    const cells: SheetCell[] = [];
    for (const m of rowBody!.matchAll(/<table:table-cell([^>]*?)(?:\/>|>([\s\S]*?)<\/table:table-cell>)/g)) {
      const attrs = m[1]!;
      const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(attrs)?.[1];
      const cell: SheetCell = { type: attr('office:value-type') ?? 'empty', text: paragraphs(m[2] ?? '') };
      const value = attr('office:value') ?? attr('office:date-value');
      if (value !== undefined) cell.value = unescapeCell(value);
      const formula = attr('table:formula');
      if (formula !== undefined) cell.formula = unescapeCell(formula);
      const repeated = Number(attr('table:number-columns-repeated') ?? 1);
      for (let i = 0; i < repeated; i++) cells.push(cell);
    }
    while (cells.length > 0 && cells.at(-1)!.type === 'empty' && cells.at(-1)!.text === '') cells.pop();
    const repeatedRows = Number(/table:number-rows-repeated="(\d+)"/.exec(rowAttrs!)?.[1] ?? 1);
    if (cells.length > 0) for (let i = 0; i < repeatedRows; i++) rows.push(cells);
  }
  return rows;
}

/** A cell's text: paragraphs joined by newlines, ODF's space, tab and line-break elements expanded. */
function paragraphs(body: string): string {
  return [...body.matchAll(/<text:p(?:\s[^>]*)?>([\s\S]*?)<\/text:p>|<text:p[^>]*\/>/g)]
    .map((p) =>
      unescapeCell(
        (p[1] ?? '')
          .replace(/<text:s text:c="(\d+)"\/>/g, (_m, n: string) => ' '.repeat(Number(n)))
          .replace(/<text:s\/>/g, ' ')
          .replace(/<text:tab\/>/g, '\t')
          .replace(/<text:line-break\/>/g, '\n')
          .replace(/<[^>]+>/g, ''),
      ),
    )
    .join('\n');
}

function unescapeCell(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp|#x?[0-9a-fA-F]+);/g, (_m, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    if (e === 'amp') return '&';
    return String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}
