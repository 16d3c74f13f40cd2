import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { type CopyToStreamQuery, to as copyTo } from 'pg-copy-streams';

/**
 * A COPY … TO STDOUT stream that, once it is big, reads its socket in
 * batches instead of each time data arrives.
 *
 * PostgreSQL sends COPY data 8 KB at a time. A reader that waits on the
 * socket is woken for each of those sends: the heavy user's 610 MB of JSON
 * and CSV took 55,000 socket reads and 79,000 turns of the event loop, and
 * each wakeup costs both sides (the backend's kernel time was a sixth of
 * its own). On a machine whose cores PostgreSQL and Node share, that CPU is
 * wall time (BENCHMARKS.md). So after each read the socket is left alone
 * for a millisecond, long enough for about a hundred kilobytes to queue in
 * the kernel and short enough that the backend never fills its buffer and
 * waits, and then everything queued is read in one go.
 *
 * Node has no public way to stop a socket's reads other than letting its
 * buffer fill, so this stops the handle as Node itself does when a stream's
 * buffer is full (`handle.reading = false; handle.readStop()`), and restarts
 * it as Node does, only once the buffer is below its high-water mark: a
 * consumer that is behind keeps its backpressure. (`socket.read(0)` cannot
 * restart it: the stream may think a read is still under way.) Anything
 * unexpected (another pg-copy-streams, no handle) or a TLS connection
 * leaves the stream reading as data comes, which is only slower.
 *
 * Kept on evidence, fenced here: an interleaved A-B benchmark (five pairs of
 * the heavy user, 2026-12-05, `npm run bench:ab`) was slower without it in
 * every pair (1.7-8.2%, median 4.0%). pg-copy-streams is pinned to the
 * version whose internals this reads, and copy-out.test.ts fails (no pause
 * counted) the day they change.
 */

/** Small COPYs (a light user's entities) are read as they come: no pause, no added latency. */
export const BATCH_AFTER_BYTES = 1024 * 1024;
/** How long the socket is left alone between reads (1, 2 and 4 ms measured alike; BENCHMARKS.md). */
const PAUSE_MS = 1;

/** The parts of pg-copy-streams and node:net that batching relies on; checked before use. */
type CopyInternals = CopyToStreamQuery & { _onReadableEvent?: () => void; connection?: { stream?: Socket } };
type SocketHandle = { reading?: boolean; readStop?: () => number; readStart?: () => number };

export interface CopyOut extends CopyToStreamQuery {
  /** How many times the socket was left alone to gather data (0 for a small COPY). */
  readonly pauses: number;
}

export function copyOut(sql: string): CopyOut {
  const copy = copyTo(sql) as CopyInternals & { pauses: number };
  copy.pauses = 0;
  // pg-copy-streams listens for 'readable' on the socket with this function while the COPY runs.
  const forward = copy._onReadableEvent;
  if (typeof forward !== 'function') return copy;
  let firstBytes: number | undefined;
  let pausing = false;

  const onReadable = () => {
    forward();
    const socket = copy.connection?.stream;
    // A TLS connection (sslmode) reads through OpenSSL's own buffers: not measured here, so left as it is.
    if (!socket || pausing || socket instanceof TLSSocket) return;
    firstBytes ??= socket.bytesRead;
    if (socket.bytesRead - firstBytes < BATCH_AFTER_BYTES) return;
    pausing = true;
    // After this turn: libuv reads everything queued before it returns, so stop only once it has.
    setImmediate(() => {
      const handle = (socket as unknown as { _handle?: SocketHandle })._handle;
      // The COPY has ended (pg-copy-streams has given the socket back to node-postgres), or reads are stopped already.
      if (
        !running(socket) ||
        !handle?.reading ||
        typeof handle.readStop !== 'function' ||
        typeof handle.readStart !== 'function'
      ) {
        pausing = false;
        return;
      }
      handle.reading = false;
      handle.readStop();
      copy.pauses++;
      const resume = () => {
        if (socket.destroyed) {
          pausing = false;
          return;
        }
        // A consumer that is behind: wait for it, as Node would with a full buffer.
        if (running(socket) && socket.readableLength >= socket.readableHighWaterMark)
          return void setTimeout(resume, PAUSE_MS);
        pausing = false;
        // Also when the COPY ended meanwhile: node-postgres, which has the socket back, may not restart it itself.
        if (handle.reading) return;
        handle.reading = true;
        const error = handle.readStart!();
        if (error) socket.destroy(new Error(`could not read from the database's socket again (${error})`));
      };
      setTimeout(resume, PAUSE_MS);
    });
  };
  const running = (socket: Socket) => socket.listeners('readable').includes(onReadable);

  copy._onReadableEvent = onReadable;
  return copy;
}
