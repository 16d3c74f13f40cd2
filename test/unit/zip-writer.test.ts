import { describe, expect, it } from 'vitest';
import { ZipWriter } from '../../src/export/zip-writer.ts';

describe('ZipWriter', () => {
  it('finalize() waiting on an output nobody reads settles at once when the archive is aborted', async () => {
    const zip = new ZipWriter({ level: 0, date: new Date('2026-01-01T00:00:00Z') });
    // Nobody consumes zip.output (the upload stopped): the archive fills its buffers and waits.
    const entry = zip.openEntry('big.bin');
    void entry.write(Buffer.alloc(8 * 1024 * 1024)).catch(() => {});
    entry.end();
    const finalized = zip.finalize();
    zip.abort(new Error('the claim was lost'));
    const outcome = await Promise.race([
      finalized.then(
        () => 'resolved',
        (error: Error) => error.message,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5_000)),
    ]);
    expect(outcome).toBe('the claim was lost');
  });
});
