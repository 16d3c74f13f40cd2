import { describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/export/entities.ts';
import { csvCopySql, jsonLinesCopySql, userLiteral } from '../../src/export/queries.ts';

const USER = '3f0c5b8e-1d2a-4c6b-9e7f-0a1b2c3d4e5f';

describe('the column allowlist', () => {
  it('exports no column named like a secret', () => {
    for (const entity of ENTITIES) {
      for (const column of entity.columns) {
        expect(column.name, `${entity.name}.${column.name}`).not.toMatch(/password|passwd|secret|token|hash|api_?key|salt/i);
        expect(column.sql ?? '', `${entity.name}.${column.name}`).not.toMatch(/password|secret|token/i);
      }
    }
  });

  it('never selects *: every query lists its columns', () => {
    for (const entity of ENTITIES) {
      for (const sql of [jsonLinesCopySql(entity, USER), csvCopySql(entity, USER)]) {
        expect(sql).not.toMatch(/select\s+\*|\bt\.\*/i);
        for (const column of entity.columns) expect(sql).toContain(`as "${column.name}"`);
      }
    }
  });

  it('takes only a UUID as the user id: nothing can be injected into COPY', () => {
    expect(userLiteral(USER)).toBe(`'${USER}'::uuid`);
    expect(() => userLiteral(`${USER}'; drop table users; --`)).toThrow(/not a UUID/);
  });
});
