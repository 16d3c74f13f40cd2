import { describe, expect, it } from 'vitest';
import { secretLookingName } from '../../src/definition/secrets.ts';
import { loadDefinition } from '../../src/definition/parse.ts';
import { userLiteral } from '../../src/export/queries.ts';
import { SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';

const USER = '3f0c5b8e-1d2a-4c6b-9e7f-0a1b2c3d4e5f';

describe('the shipped definition and the queries', () => {
  it('omits the password hash, and exports a secret-looking name only with a reason', () => {
    const def = loadDefinition(SAMPLE_FILES_DEFINITION);
    const users = def.entities.find((e) => e.name === 'users')!;
    expect(users.columns.find((c) => c.name === 'password_hash')).toMatchObject({ omit: 'password hash' });
    for (const e of def.entities) {
      for (const c of e.columns) {
        if (c.export !== undefined && secretLookingName(c.name)) expect(c.notSecret, `${e.name}.${c.name}`).toBeTruthy();
      }
    }
  });

  it('inlines any user id as one string literal: nothing can be injected into COPY', () => {
    expect(userLiteral(USER)).toBe(`'${USER}'`);
    expect(userLiteral('42')).toBe(`'42'`);
    // A quote is doubled (the snapshot sets standard_conforming_strings, so a backslash is only a backslash).
    expect(userLiteral(`${USER}'; drop table users; --`)).toBe(`'${USER}''; drop table users; --'`);
    expect(userLiteral(`a\\'b`)).toBe(`'a\\''b'`);
    for (const bad of ['', 'a\nb', 'a\u0000b', 'x'.repeat(1001)]) expect(() => userLiteral(bad), JSON.stringify(bad)).toThrow(/not a user id/);
  });
});
