import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc } from '../../scripts/configuration-doc.ts';
import { SETTINGS } from '../../src/settings.ts';

/**
 * docs/configuration.md is generated from the settings table (npm run
 * docs:config): a setting added, renamed or re-described in src/settings.ts
 * without running the generator fails here.
 */
const DOC = new URL('../../docs/configuration.md', import.meta.url);

describe('docs/configuration.md', () => {
  it('is exactly what scripts/configuration-doc.ts renders from src/settings.ts (run npm run docs:config)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(renderConfigurationDoc());
  });

  it('has one row per setting, naming its variable and flag', () => {
    const rows = renderConfigurationDoc()
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    expect(rows).toHaveLength(Object.keys(SETTINGS).length);
    for (const s of Object.values(SETTINGS)) {
      expect(
        rows.some((row) => row.startsWith(`| \`${s.env}\` | \`${s.flag}\` |`)),
        s.env,
      ).toBe(true);
    }
  });
});
