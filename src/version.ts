import { readFileSync } from 'node:fs';

/** The exporter's version, from package.json (one level above both src/ and dist/). */
export const EXPORTER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
