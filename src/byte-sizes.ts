const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes from "1073741824", "500MB", "5GiB" or "2 TB". Undefined for anything else (zero, fractions, negatives). */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  if (!match) return undefined;
  const bytes = Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** "5 GiB", "512 MiB", "900 KiB", "12 bytes": for people. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${Number.isInteger(n) ? n : n.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} bytes`;
}
