/**
 * The last step of `npm run build`: dist/.source-digest, the digest of the
 * sources dist/ was compiled from (bin/source-digest.js), by which
 * bin/exporter knows the build is current and runs it instead of the
 * sources.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sourceDigest } from '../bin/source-digest.js';

const digest = sourceDigest(fileURLToPath(new URL('../src/', import.meta.url)));
if (digest === null) throw new Error('no src/ to stamp the build with');
writeFileSync(new URL('../dist/.source-digest', import.meta.url), `${digest}\n`);
