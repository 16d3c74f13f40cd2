/**
 * The byte layout of a ZIP (PKWARE's APPNOTE.TXT, sections 4.3 and 4.5), as a
 * streamed writer needs it, in the form that every reader we know of opens,
 * streaming ones included (Java's ZipInputStream, Commons Compress, macOS
 * Archive Utility, Windows' own tools): an entry whose sizes and CRC-32 are
 * known before it is written carries them in its local header and has no
 * data descriptor; only a deflated entry too large to hold has one (its sizes
 * and CRC follow its data). A stored entry never has a descriptor: a
 * streaming reader cannot find where its data ends (ZipInputStream refuses
 * it: "only DEFLATED entries can have EXT descriptor"). ZIP64 fields are used
 * only where a size, an offset or the number of entries does not fit the
 * classic 32-bit (16-bit for counts) fields, or an entry may pass 4 GiB.
 */

/** A 32-bit field holding this value means "see the ZIP64 extra field". */
export const ZIP32_MAX = 0xffff_ffff;
/** The largest entry count the classic end record can hold. */
export const ZIP16_MAX = 0xffff;

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;

/** Bit 11: the name is UTF-8. Bit 3: sizes and CRC in a data descriptor after the data. */
const FLAG_UTF8 = 0x0800;
const FLAG_DESCRIPTOR = 0x0008;
const flagsOf = (record: CentralRecord) => FLAG_UTF8 | (record.descriptor ? FLAG_DESCRIPTOR : 0);
/** 2.0: deflate; 4.5: ZIP64. */
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** Made by: UNIX (3), so unzip and 7-Zip apply the permission bits below. */
const MADE_BY_UNIX = 3 << 8;
/** A regular file, rw-r--r--, in the high 16 bits of the external attributes. */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;

/** What the central directory needs to know of one written entry. */
export interface CentralRecord {
  /**
   * Kept as a string and encoded where it is written: a small Buffer is a
   * slice of a shared pool, and one name kept to the end kept its whole pool
   * (20,000 names held 420 MB of 64 KiB pools).
   */
  name: string;
  /** Its length in UTF-8. */
  nameBytes: number;
  method: number;
  crc32: number;
  compressedBytes: number;
  bytes: number;
  /** Where its local header starts. */
  offset: number;
  /** Its local header announced ZIP64 sizes (and its data descriptor used them). */
  zip64Local: boolean;
  /** Its sizes and CRC follow its data (a deflated entry too large to hold); else they are in its local header. */
  descriptor: boolean;
}

/** MS-DOS date and time (2-second resolution, no zone): the date's UTC fields, as the archive's readers show them. */
export function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getUTCFullYear(), 1980), 2107);
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

/**
 * The local file header. With a descriptor, sizes and CRC are zero (they
 * follow the data); without one, they are the entry's. `zip64`: the entry may
 * pass 4 GiB, so the header carries a ZIP64 extra field and the descriptor
 * will hold 8-byte sizes; readers that stream through the archive decide the
 * descriptor's layout from this.
 */
export function localHeader(record: CentralRecord, when: { time: number; date: number }): Buffer {
  const { nameBytes, method } = record;
  const zip64 = record.zip64Local;
  const extra = zip64 ? 20 : 0;
  const header = Buffer.alloc(30 + nameBytes + extra);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, 4);
  header.writeUInt16LE(flagsOf(record), 6);
  header.writeUInt16LE(method, 8);
  header.writeUInt16LE(when.time, 10);
  header.writeUInt16LE(when.date, 12);
  if (!record.descriptor) {
    if (zip64) throw new Error(`${record.name}: a held entry never needs ZIP64 sizes`);
    header.writeUInt32LE(record.crc32 >>> 0, 14);
    header.writeUInt32LE(record.compressedBytes, 18);
    header.writeUInt32LE(record.bytes, 22);
  } else if (zip64) {
    // CRC-32 (14) is zero; the sizes are "in the ZIP64 field" (itself zero until the descriptor).
    header.writeUInt32LE(ZIP32_MAX, 18);
    header.writeUInt32LE(ZIP32_MAX, 22);
  }
  header.writeUInt16LE(nameBytes, 26);
  header.writeUInt16LE(extra, 28);
  header.write(record.name, 30, 'utf8');
  if (zip64) {
    header.writeUInt16LE(0x0001, 30 + nameBytes);
    header.writeUInt16LE(16, 32 + nameBytes);
  }
  return header;
}

/** The data descriptor: CRC-32 and sizes, 8-byte sizes where the local header announced ZIP64 or a size needs them. */
export function dataDescriptor(record: CentralRecord): Buffer {
  const wide = record.zip64Local || record.bytes >= ZIP32_MAX || record.compressedBytes >= ZIP32_MAX;
  const descriptor = Buffer.alloc(wide ? 24 : 16);
  descriptor.writeUInt32LE(0x08074b50, 0);
  descriptor.writeUInt32LE(record.crc32 >>> 0, 4);
  if (wide) {
    descriptor.writeBigUInt64LE(BigInt(record.compressedBytes), 8);
    descriptor.writeBigUInt64LE(BigInt(record.bytes), 16);
  } else {
    descriptor.writeUInt32LE(record.compressedBytes, 8);
    descriptor.writeUInt32LE(record.bytes, 12);
  }
  return descriptor;
}

/** The length of an entry's central directory header (to size the buffer it is written into). */
export function centralHeaderLength(record: CentralRecord): number {
  return 46 + record.nameBytes + zip64ExtraLength(record);
}

/** Writes an entry's central directory header into `target` at `at`; returns where the next one starts. */
export function writeCentralHeader(
  record: CentralRecord,
  when: { time: number; date: number },
  target: Buffer,
  at: number,
): number {
  const extra = zip64ExtraLength(record);
  const zip64 = extra > 0 || record.zip64Local;
  target.writeUInt32LE(0x02014b50, at);
  target.writeUInt16LE(MADE_BY_UNIX | VERSION_ZIP64, at + 4);
  target.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, at + 6);
  target.writeUInt16LE(flagsOf(record), at + 8);
  target.writeUInt16LE(record.method, at + 10);
  target.writeUInt16LE(when.time, at + 12);
  target.writeUInt16LE(when.date, at + 14);
  target.writeUInt32LE(record.crc32 >>> 0, at + 16);
  target.writeUInt32LE(Math.min(record.compressedBytes, ZIP32_MAX), at + 20);
  target.writeUInt32LE(Math.min(record.bytes, ZIP32_MAX), at + 24);
  target.writeUInt16LE(record.nameBytes, at + 28);
  target.writeUInt16LE(extra, at + 30);
  target.writeUInt16LE(0, at + 32); // comment length
  target.writeUInt16LE(0, at + 34); // disk number
  target.writeUInt16LE(0, at + 36); // internal attributes
  target.writeUInt32LE(EXTERNAL_ATTRIBUTES, at + 38);
  target.writeUInt32LE(Math.min(record.offset, ZIP32_MAX), at + 42);
  target.write(record.name, at + 46, 'utf8');
  let p = at + 46 + record.nameBytes;
  if (extra > 0) {
    // Only the fields whose 32-bit slot says "see ZIP64", in this order (APPNOTE 4.5.3).
    target.writeUInt16LE(0x0001, p);
    target.writeUInt16LE(extra - 4, p + 2);
    p += 4;
    for (const value of [record.bytes, record.compressedBytes, record.offset]) {
      if (value >= ZIP32_MAX) {
        target.writeBigUInt64LE(BigInt(value), p);
        p += 8;
      }
    }
  }
  return p;
}

function zip64ExtraLength(record: CentralRecord): number {
  const wide = [record.bytes, record.compressedBytes, record.offset].filter((v) => v >= ZIP32_MAX).length;
  return wide === 0 ? 0 : 4 + 8 * wide;
}

/**
 * The end of the archive: the classic end record, preceded by the ZIP64 end
 * record and its locator when the count, the directory's size or its offset
 * do not fit the classic one.
 */
export function endRecords(entries: number, directoryBytes: number, directoryOffset: number): Buffer {
  const zip64 = entries >= ZIP16_MAX || directoryBytes >= ZIP32_MAX || directoryOffset >= ZIP32_MAX;
  const end = Buffer.alloc(22 + (zip64 ? 56 + 20 : 0));
  let p = 0;
  if (zip64) {
    const zip64EndOffset = directoryOffset + directoryBytes;
    end.writeUInt32LE(0x06064b50, p);
    end.writeBigUInt64LE(44n, p + 4); // the size of the rest of this record
    end.writeUInt16LE(MADE_BY_UNIX | VERSION_ZIP64, p + 12);
    end.writeUInt16LE(VERSION_ZIP64, p + 14);
    // disk numbers (16, 20) are zero
    end.writeBigUInt64LE(BigInt(entries), p + 24);
    end.writeBigUInt64LE(BigInt(entries), p + 32);
    end.writeBigUInt64LE(BigInt(directoryBytes), p + 40);
    end.writeBigUInt64LE(BigInt(directoryOffset), p + 48);
    p += 56;
    end.writeUInt32LE(0x07064b50, p);
    end.writeUInt32LE(0, p + 4);
    end.writeBigUInt64LE(BigInt(zip64EndOffset), p + 8);
    end.writeUInt32LE(1, p + 16); // total number of disks
    p += 20;
  }
  end.writeUInt32LE(0x06054b50, p);
  // disk numbers (4, 6) are zero
  end.writeUInt16LE(Math.min(entries, ZIP16_MAX), p + 8);
  end.writeUInt16LE(Math.min(entries, ZIP16_MAX), p + 10);
  end.writeUInt32LE(Math.min(directoryBytes, ZIP32_MAX), p + 12);
  end.writeUInt32LE(Math.min(directoryOffset, ZIP32_MAX), p + 16);
  // comment length (20) is zero
  return end;
}
