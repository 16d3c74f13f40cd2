import { Document, Pair, type Scalar, YAMLMap, YAMLSeq } from 'yaml';

export const TODO_GUESS = ' TODO: a guess from its name; say what it means to the person';
/** A name of the database as a JSON string, as a comment writes it. */
export const j = (name: string) => JSON.stringify(name);

/** Builds one document: mappings in order, each entry with the comments it carries. */
export class Draft {
  readonly doc = new Document(new YAMLMap());

  get root(): YAMLMap {
    return this.doc.contents as YAMLMap;
  }

  /** Adds `key: value` to `map`; `flow` writes a mapping or list on one line. */
  add(
    map: YAMLMap,
    key: string,
    value: unknown,
    options: { before?: string; after?: string; flow?: boolean; space?: boolean } = {},
  ) {
    const k = this.doc.createNode(key) as Scalar;
    const v = this.doc.createNode(value) as Scalar | YAMLMap | YAMLSeq;
    if (options.flow && (v instanceof YAMLMap || v instanceof YAMLSeq)) v.flow = true;
    if (options.before !== undefined) k.commentBefore = options.before;
    if (options.after !== undefined) v.comment = options.after;
    if (options.space) k.spaceBefore = true;
    map.items.push(new Pair(k, v));
    return v;
  }

  text(): string {
    return this.doc.toString({ lineWidth: 0, flowCollectionPadding: true });
  }
}
