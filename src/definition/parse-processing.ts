import { isSeq, type Node } from 'yaml';
import { PROCESSING_FIELDS, type Processing } from '../model/definition.ts';
import type { YamlReader } from './yaml-reader.ts';

/** The Art. 15 fields present at one level (the file's top, or an entity): texts, and `recipients` a list of texts. */
export function parseProcessing(r: YamlReader, at: string, field: (yaml: string) => Node | undefined): Processing {
  const processing: Processing = {};
  for (const f of PROCESSING_FIELDS) {
    const node = field(f.yaml);
    if (!node) continue;
    const where = at === 'the file' ? f.yaml : `${at}.${f.yaml}`;
    if (f.key === 'recipients') {
      if (!isSeq(node) || node.items.length === 0)
        r.problem(node, where, 'must be a non-empty list of texts (named recipients, or categories)');
      else processing.recipients = node.items.map((item, i) => r.text(item as Node, `${where}[${i}]`));
    } else {
      processing[f.key] = r.text(node, where);
    }
  }
  return processing;
}
