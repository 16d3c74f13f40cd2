import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_AFTER_BYTES, type CopyOut } from '../../src/snapshot/copy-out.ts';
import { createTestEnv, type TestEnv } from '../support/harness.ts';
import { withSnapshot } from '../support/snapshot.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

/** 200,000 lines of 108 bytes or so: about 21 MB, far past the point where reads are batched. */
const ROWS = 200_000;
const bigCopy = (fail = '') =>
  `copy (select ${fail || 'i'}, repeat('x', 100) from generate_series(1, ${ROWS}) i) to stdout`;
const expectedHash = () => {
  const hash = createHash('sha256');
  for (let i = 1; i <= ROWS; i++) hash.update(`${i}\t${'x'.repeat(100)}\n`);
  return hash.digest('hex');
};

/** The socket under a running COPY (pg-copy-streams keeps the connection it was submitted on). */
const socketOf = (copy: CopyOut) => (copy as unknown as { connection: { stream: Socket } }).connection.stream;

async function drain(stream: Readable, onChunk: (chunk: Buffer) => Promise<void> | void = () => {}) {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
    await onChunk(chunk);
  }
  return { sha256: hash.digest('hex'), bytes };
}

describe('a big COPY reads its socket in batches', () => {
  it('every byte arrives in order, the socket is left alone between reads, and the connection is usable afterwards', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const copy = snapshot.copy(bigCopy());
      const { sha256, bytes } = await drain(copy);
      expect(bytes).toBeGreaterThan(20 * BATCH_AFTER_BYTES);
      expect(sha256).toBe(expectedHash());
      expect(copy.pauses).toBeGreaterThan(0);
      // The same connection answers the next query: reads were restarted after the COPY.
      const small = snapshot.copy('copy (select 42) to stdout');
      expect((await drain(small)).bytes).toBe(3);
      expect(small.pauses).toBe(0);
    }));

  it('a consumer that stops for a while keeps its backpressure: the socket does not buffer past its high-water mark', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const copy = snapshot.copy(bigCopy());
      let seen = 0;
      let mostBuffered = 0;
      let stalled = false;
      const { sha256 } = await drain(copy, async (chunk) => {
        seen += chunk.length;
        const socket = socketOf(copy);
        if (!stalled && seen > 4 * BATCH_AFTER_BYTES) {
          stalled = true;
          // Well past the pause: reads would restart every millisecond if nothing held them back.
          for (let i = 0; i < 20; i++) {
            await sleep(10);
            mostBuffered = Math.max(mostBuffered, socket.readableLength);
          }
          expect(mostBuffered).toBeLessThanOrEqual(socket.readableHighWaterMark + 64 * 1024);
        }
      });
      expect(stalled).toBe(true);
      expect(sha256).toBe(expectedHash());
      expect(copy.pauses).toBeGreaterThan(0);
    }));

  it('a consumer slower than the database to the end (its backpressure, not the pause, holds the socket): every byte, and the connection answers the next query', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const copy = snapshot.copy(bigCopy());
      const { sha256 } = await drain(copy, () => sleep(1));
      expect(sha256).toBe(expectedHash());
      expect((await drain(snapshot.copy('copy (select 42) to stdout'))).bytes).toBe(3);
    }));

  it('a COPY that fails after the batching began reports the database error, and the connection still answers', () =>
    withSnapshot(
      env.handle.pool,
      async (snapshot) => {
        const copy = snapshot.copy(bigCopy(`case when i = ${ROWS - 10} then i / 0 else i end`));
        await expect(drain(copy)).rejects.toThrow(/division by zero/);
        expect(copy.pauses).toBeGreaterThan(0);
        // The transaction is aborted, and the server says so: the socket is read again, nothing hangs.
        await expect(drain(snapshot.copy('copy (select 1) to stdout'))).rejects.toThrow(
          /current transaction is aborted/,
        );
      },
      new Error('test over'),
    ));
});
