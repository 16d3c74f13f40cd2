import { type CentralRecord, centralHeaderLength, endRecords, writeCentralHeader } from './zip-format.ts';
import type { ZipOutput } from './zip-output.ts';

/** The central directory is written in pieces of about this size, each waiting for the upload to take the last. */
const DIRECTORY_PIECE_BYTES = 64 * 1024;

/**
 * The archive's end: a central header per entry, in pieces (a million
 * entries' directory is never one buffer), then the end records (ZIP64
 * where needed), and the output ended.
 */
export async function writeDirectory(
  out: ZipOutput,
  records: readonly CentralRecord[],
  when: { time: number; date: number },
): Promise<void> {
  const directoryOffset = out.offset;
  let piece = Buffer.allocUnsafe(DIRECTORY_PIECE_BYTES);
  let used = 0;
  for (const record of records) {
    const length = centralHeaderLength(record);
    if (used + length > piece.length) {
      await out.push(piece.subarray(0, used));
      piece = Buffer.allocUnsafe(Math.max(DIRECTORY_PIECE_BYTES, length));
      used = 0;
    }
    used = writeCentralHeader(record, when, piece, used);
  }
  if (used > 0) await out.push(piece.subarray(0, used));
  await out.push(endRecords(records.length, out.offset - directoryOffset, directoryOffset));
  out.end();
}
