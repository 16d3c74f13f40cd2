import yauzl from 'yauzl';

/** Reads every entry of a ZIP with a real unzip library. */
export function readZip(buffer: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const files = new Map<string, Buffer>();
      zip.on('error', reject);
      zip.on('end', () => resolve(files));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** JSON.parse that keeps integers beyond 2^53 exact, as strings of their digits. */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (
      typeof value === 'number' &&
      context?.source &&
      !Number.isSafeInteger(value) &&
      /^-?\d+$/.test(context.source)
    ) {
      return BigInt(context.source);
    }
    return value;
  });
}

/** Each entry's compression method (0 stored, 8 deflated), as the archive's central directory says. */
export async function zipMethods(buffer: Buffer): Promise<Map<string, number>> {
  return new Map([...(await zipEntryInfo(buffer))].map(([name, info]) => [name, info.method]));
}

export interface ZipEntryInfo {
  method: number;
  compressedSize: number;
  size: number;
  /** General purpose flag bit 3: its sizes and CRC follow its data. */
  descriptor: boolean;
}

/** Each entry's method, sizes and whether it has a data descriptor, as the archive's central directory says. */
export function zipEntryInfo(buffer: Buffer): Promise<Map<string, ZipEntryInfo>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const info = new Map<string, ZipEntryInfo>();
      zip.on('error', reject);
      zip.on('end', () => resolve(info));
      zip.on('entry', (entry: yauzl.Entry) => {
        info.set(entry.fileName, {
          method: entry.compressionMethod,
          compressedSize: entry.compressedSize,
          size: entry.uncompressedSize,
          descriptor: (entry.generalPurposeBitFlag & 0x8) !== 0,
        });
        zip.readEntry();
      });
      zip.readEntry();
    });
  });
}
