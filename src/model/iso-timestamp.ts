/**
 * ISO 8601 in UTC with all six fractional digits: exact, and the same text
 * in JSON and CSV (and the snapshot's `as_of`). UTC as a zero offset, not the
 * zone's name, which PostgreSQL would look up again for every value: the same
 * text, in 6% less time (PostgreSQL 18, BENCHMARKS.md).
 */
export const isoTimestamp = (expr: string) => timestampText(`${expr} at time zone interval '0'`, expr, '"Z"');

/** A timestamp without a time zone: as stored, the same form without the Z. */
export const isoLocalTimestamp = (expr: string) => timestampText(expr, expr, '');

/**
 * to_char alone gives NULL for 'infinity' (an application's "never") and
 * drops the era of a date before year 1: so those, rare, take a second
 * test, and are written 'infinity', '-infinity', or with " BC" after the
 * time. The common case costs one comparison more.
 */
function timestampText(local: string, value: string, zone: string): string {
  const format = `YYYY-MM-DD"T"HH24:MI:SS.US${zone}`;
  return `case when ${value} >= '0001-01-01 00:00:00+00' and isfinite(${value}) then to_char(${local}, '${format}') when isfinite(${value}) then to_char(${local}, '${format} BC') else ${value}::text end`;
}
