import { describe, expect, it } from 'vitest';
import { newArchiveKey, sealedScript } from '../../src/viewer/seal.ts';
import { ViewerRows } from '../../src/viewer/viewer-rows.ts';
import { unsealScript } from '../support/viewer-data.ts';

/** The script ViewerRows' rows become, sealed, then opened as the page opens it: the rows it hands over, one JSON text each. */
async function handedOver(
  rows: ViewerRows,
  level = 1,
): Promise<{ entity: string | undefined; texts: string[]; script: string }> {
  const key = newArchiveKey();
  const pieces: Buffer[] = [];
  for await (const piece of sealedScript(
    key,
    [{ header: { kind: 'rows', entity: 'things' }, body: rows.handOver() }],
    level,
  ))
    pieces.push(piece);
  const script = Buffer.concat(pieces).toString();
  const [section] = unsealScript(script, key);
  return {
    entity: section!.header.entity,
    texts: section!.text === '' ? [] : section!.text.replace(/\n$/, '').split('\n'),
    script,
  };
}

const lines = (...rows: object[]) => Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));

describe("the viewer's rows, taken from the JSON lines on their way into the archive", () => {
  it('keeps whole rows across chunks cut anywhere, up to the row limit, and hands each over as the JSON text it was', async () => {
    const all = lines(
      { a: 1, t: 'é 中 \u2028 "q" \\ </script>' },
      { a: 2, __proto__: null, k: '__proto__' },
      { a: 3 },
      { a: 4 },
    );
    const rows = new ViewerRows(3);
    for (let i = 0; i < all.length; i += 5) rows.take(all.subarray(i, i + 5));
    expect(rows.rows).toBe(3);
    const { entity, texts, script } = await handedOver(rows);
    expect(entity).toBe('things');
    expect(texts).toEqual(all.toString().split('\n').slice(0, 3));
    expect(JSON.parse(texts[0]!)).toEqual({ a: 1, t: 'é 中 \u2028 "q" \\ </script>' });
    // Sealed: nothing of a row in the script's text, which is one call with one base64 string.
    expect(script).toMatch(/^exporterViewer\.sealed\("[A-Za-z0-9+/]+={0,2}"\);\n$/);
    expect(script).not.toContain('script');
  });

  it('stops before the row that would pass the byte limit: a row cut short is never handed over', async () => {
    const rows = new ViewerRows(1000, 100);
    rows.take(lines({ n: 'x'.repeat(20) }, { n: 'y'.repeat(20) }));
    rows.take(lines({ n: 'z'.repeat(40) }).subarray(0, 10));
    rows.take(lines({ n: 'z'.repeat(40) }).subarray(10));
    rows.take(lines({ n: 'w' }));
    const { texts } = await handedOver(rows);
    expect(texts.map((t) => JSON.parse(t).n)).toEqual(['x'.repeat(20), 'y'.repeat(20)]);
  });

  it('many rows (past one slab, and past what is deflated in one call) come back whole, row for row, at every level', async () => {
    const all = Array.from({ length: 12_000 }, (_, i) => ({ i, text: `row ${i} ${'é'.repeat(i % 120)} \u2028 "q"` }));
    for (const level of [0, 1, 9]) {
      const rows = new ViewerRows(100_000, 4 * 1024 * 1024);
      rows.take(lines(...all));
      expect(rows.bytes).toBeGreaterThan(1024 * 1024);
      const { texts } = await handedOver(rows, level);
      expect(
        texts.map((t) => JSON.parse(t)),
        `level ${level}`,
      ).toEqual(all);
    }
  });

  it('an entity with no rows hands over an empty list; a script sealed under one key does not open with another', async () => {
    expect((await handedOver(new ViewerRows(10))).texts).toEqual([]);
    const rows = new ViewerRows(10);
    rows.take(lines({ a: 1 }));
    const { script } = await handedOver(rows);
    expect(() => unsealScript(script, newArchiveKey())).toThrow(/authenticate/);
  });
});
