import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { newArchiveKey, sealedScript } from '../../src/viewer/seal.ts';

describe('the sealed viewer data', () => {
  // A build stopped while its viewer data is written (the claim lost, a stall)
  // stops reading the script early. Stop 37's CI saw the process die of it: the
  // deflate stream's feeder was left with a rejection nobody handled, and a
  // worker's other builds went down with the one that stopped.
  it('a reader that stops early leaves nothing rejected unhandled, at any point of a large script', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // Incompressible, so zlib's output fills and the feeder waits on 'drain'.
      const body = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
      for (const stopAfter of [1, 2, 5, 20]) {
        let read = 0;
        for await (const _piece of sealedScript(newArchiveKey(), [{ header: { kind: 'archive' }, body }], 1))
          if (++read === stopAfter) break;
        expect(read).toBe(stopAfter);
      }
      await sleep(200);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
