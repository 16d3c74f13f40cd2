import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';

/** An entry's content made ready once, for any number of archives (ZipWriter.addPrepared). */
export interface PreparedEntry {
  /** Deflated (at level 9: it is made once), or stored when `deflated` is false. */
  data: Buffer;
  deflated: boolean;
  crc32: number;
  bytes: number;
  sha256: string;
}

/** `content` deflated at level 9, or stored for an archive at level 0, with its CRC-32 and SHA-256. */
export function prepareEntry(content: Buffer, level: number): PreparedEntry {
  const deflated = level > 0;
  return {
    data: deflated ? deflateRawSync(content, { level: 9 }) : content,
    deflated,
    crc32: crc32(content),
    bytes: content.length,
    sha256: createHash('sha256').update(content).digest('hex'),
  };
}
