/**
 * The one rule for a date or a moment an operator types (report's --from,
 * --to and --as-of, audit verify's --from): a day (2026-11-01, midnight UTC)
 * or a time with its zone (2026-11-01T12:00:00Z, …+02:00). A day or time
 * that does not exist is refused, never rolled over: JavaScript's Date reads
 * 2026-02-31 as 3 March.
 */
const MOMENT = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?(Z|[+-](\d\d):(\d\d)))?$/;

export function parseMoment(text: string): Date | undefined {
  const m = MOMENT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', , zone, zh = '00', zm = '00'] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d))
    return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(zh) > 23 || Number(zm) > 59) return undefined;
  const date = new Date(zone === undefined ? `${text}T00:00:00Z` : text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
