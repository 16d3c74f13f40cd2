import { describe, expect, it } from 'vitest';
import { SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import { userLiteral } from '../../src/archive/queries.ts';
import { loadDefinition } from '../../src/definition/parse.ts';
import { secretLookingName } from '../../src/definition/secrets.ts';

const USER = '3f0c5b8e-1d2a-4c6b-9e7f-0a1b2c3d4e5f';

describe('the shipped definition and the queries', () => {
  it('omits the password hash, and exports a secret-looking name only with a reason', () => {
    const def = loadDefinition(SAMPLE_FILES_DEFINITION);
    const users = def.entities.find((e) => e.name === 'users')!;
    expect(users.columns.find((c) => c.name === 'password_hash')).toMatchObject({ omit: 'password hash' });
    for (const e of def.entities) {
      for (const c of e.columns) {
        if (c.export !== undefined && secretLookingName(c.name))
          expect(c.notSecret, `${e.name}.${c.name}`).toBeTruthy();
      }
    }
  });

  it('inlines any user id as one string literal: nothing can be injected into COPY', () => {
    // An escape string: its meaning does not depend on standard_conforming_strings. A quote is doubled, a backslash too.
    expect(userLiteral(USER)).toBe(`E'${USER}'`);
    expect(userLiteral('42')).toBe(`E'42'`);
    expect(userLiteral(`${USER}'; drop table users; --`)).toBe(`E'${USER}''; drop table users; --'`);
    expect(userLiteral(`a\\'b`)).toBe(`E'a\\\\''b'`);
    for (const bad of ['', 'a\nb', 'a\u0000b', 'x'.repeat(1001)])
      expect(() => userLiteral(bad), JSON.stringify(bad)).toThrow(/not a user id/);
  });
});
