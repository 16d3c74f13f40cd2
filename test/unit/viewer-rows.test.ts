import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ViewerRows } from '../../src/viewer/viewer-rows.ts';

/** The script ViewerRows makes, run as the page would run it: the rows it hands over, one JSON text each (the page splits at newlines). */
async function handedOver(rows: ViewerRows): Promise<{ entity: string; texts: string[] }> {
  const script = [...rows.script('things')].join('');
  let got: { entity: string; texts: string[] } | undefined;
  vm.runInNewContext(script, { exporterViewer: { rows: (entity: string, chunks: string[]) => (got = { entity, texts: chunks.flatMap((c) => c.split('\n')) }) } });
  return got!;
}

const lines = (...rows: object[]) => Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));

describe("the viewer's rows, taken from the JSON lines on their way into the archive", () => {
  it('keeps whole rows across chunks cut anywhere, up to the row limit, and hands each over as the JSON text it was', async () => {
    const all = lines({ a: 1, t: 'é 中 \u2028 "q" \\ </script>' }, { a: 2, __proto__: null, k: '__proto__' }, { a: 3 }, { a: 4 });
    const rows = new ViewerRows(3);
    for (let i = 0; i < all.length; i += 5) rows.take(all.subarray(i, i + 5));
    expect(rows.rows).toBe(3);
    const { entity, texts } = await handedOver(rows);
    expect(entity).toBe('things');
    expect(texts).toEqual(all.toString().split('\n').slice(0, 3));
    expect(JSON.parse(texts[0]!)).toEqual({ a: 1, t: 'é 中 \u2028 "q" \\ </script>' });
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

  it('many rows come in several strings, each of whole rows, and the page gets every row back', async () => {
    const rows = new ViewerRows(100_000);
    const all = Array.from({ length: 5000 }, (_, i) => ({ i, text: `row ${i} ${'é'.repeat(i % 120)} \u2028 "q"` }));
    rows.take(lines(...all));
    const script = [...rows.script('things')].join('');
    let chunks: string[] = [];
    vm.runInNewContext(script, { exporterViewer: { rows: (_entity: string, texts: string[]) => (chunks = texts) } });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flatMap((c) => c.split('\n')).map((t) => JSON.parse(t))).toEqual(all);
  });

  it('an entity with no rows hands over an empty list', async () => {
    expect((await handedOver(new ViewerRows(10))).texts).toEqual([]);
  });
});
