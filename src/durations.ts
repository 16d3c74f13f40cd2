const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Seconds from "604800", "90s", "15m", "36h", "7d" or "1w". Returns undefined
 * for anything else (including zero, negative and fractional inputs).
 */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^\s*(\d+)\s*([smhdw]?)\s*$/i.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNITS[(match[2] || 's').toLowerCase()]!;
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

/** "7d", "36h", "15m" or "45s": the largest unit that divides evenly. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
