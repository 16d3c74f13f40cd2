import type { Readable } from 'node:stream';

/** Everything a stream gives, as one buffer (for tests: a stream of a known, small size). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
