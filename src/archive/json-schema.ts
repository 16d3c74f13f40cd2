import { ARCHIVE_FORMAT } from '../model/archive.ts';
import { COLUMN_KINDS } from '../model/column-kinds.ts';
import type { ExportEntity } from '../model/entities.ts';

/**
 * schema.json: a JSON Schema (2020-12) of every entity's records, so that a
 * viewer or an importer can read an archive without guessing: names, types,
 * whether a value can be null, what each column means. The same document
 * `exporter schema` prints.
 */
export function archiveSchema(entities: readonly ExportEntity[]): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Data export',
    description: `The records of each json/<entity>.json file (an array of them; a split entity's parts json/<entity>-0001.json, … hold the same records). The CSV files hold the same columns in the same order. Archive format ${ARCHIVE_FORMAT}.`,
    $defs: Object.fromEntries(
      entities.map((entity) => [
        entity.name,
        {
          description: entity.description,
          type: 'object',
          properties: Object.fromEntries(
            entity.columns.map((c) => {
              const base = COLUMN_KINDS[c.kind].schema;
              const nullable = c.nullable !== false;
              const type = base.type === undefined ? {} : { type: nullable ? [base.type, 'null'].flat() : base.type };
              return [c.name, { ...base, ...type, description: c.description }];
            }),
          ),
          required: entity.columns.map((c) => c.name),
          additionalProperties: false,
        },
      ]),
    ),
    type: 'object',
    properties: Object.fromEntries(
      entities.map((e) => [e.name, { type: 'array', items: { $ref: `#/$defs/${e.name}` } }]),
    ),
  };
}
