// One value of a row as the person reads it: in a table's cell (long text
// cut) or on the row's page (all of it, media shown); dates in words, nested
// JSON as text, a reference by the label of the row it points at.
'use strict';
{
  const app = window.exporterApp;
  const { el, t, shown, link, httpsHref, mailtoHref, state, isExactNumber, entityNamed, rowByKey } = app;
  const { fileName, fileView } = app;
  const CELL_CHARS = 160;

  function dateText(iso, style = 'long') {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.toLocaleString(undefined, { dateStyle: style, timeStyle: 'short', timeZone: 'UTC' })} UTC`;
  }

  function rowsText(n) {
    return n === 1 ? t('rowCountOne') : t('rowCount', { n });
  }

  function isFileColumn(entity, column) {
    return entity.columns.some((c) => c.name === column && c.file);
  }

  /** "This row" in words: its label, else its key, else its number. */
  function rowName(entity, row, index) {
    const label = entity.label ? row[entity.label] : null;
    if (label !== null && label !== undefined && label !== '') return String(label);
    if (entity.key && row[entity.key] !== null && row[entity.key] !== undefined) return String(row[entity.key]);
    return t('openRow', { n: index + 1 });
  }

  function valueText(value) {
    if (value === null || value === undefined) return '';
    if (isExactNumber(value)) return value.rawJSON;
    if (typeof value === 'object') return jsonText(value, false);
    return String(value);
  }

  /** Nested JSON as text (indented on a row's page); one nested too deeply for this browser says so. */
  function jsonText(value, indented) {
    try {
      return indented ? JSON.stringify(value, null, 2) : JSON.stringify(value);
    } catch {
      return t('tooDeep');
    }
  }

  /** One value, in a cell (`full` false: long text cut) or in a row's page (`full` true: all of it, media shown). */
  function valueNode(entity, column, value, full) {
    if (value === null || value === undefined) return el('span', { class: 'empty' }, t('empty'));
    if (isFileColumn(entity, column.name))
      return full ? fileView(value) : link('page', { view: 'file', path: String(value) }, fileName(value));
    const reference = (entity.references ?? []).find((r) => r.column === column.name);
    if (reference) {
      const target = entityNamed(reference.entity);
      const index = target ? rowByKey(target, value) : -1;
      if (index >= 0) {
        const row = state.data.get(target.name).rows[index];
        return link('page', { view: 'row', entity: target.name, row: String(index) }, rowName(target, row, index));
      }
    }
    if (typeof value === 'boolean') return value ? t('yes') : t('no');
    if (isExactNumber(value)) return value.rawJSON;
    // A moment in time, in words (UTC, as the archive's files write it); the row's page gives the exact value too.
    if (column.kind === 'timestamptz' && typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value))
      return full ? `${dateText(value)} (${value})` : dateText(value, 'medium');
    if (typeof value === 'object') {
      const text = jsonText(value, full);
      return full ? el('pre', { class: 'json' }, text) : cut(text);
    }
    const text = String(value);
    if (httpsHref(text) || mailtoHref(text)) return link('web', text, full ? text : cut(text));
    return full ? el('span', { class: 'long' }, text) : cut(text);
  }

  function cut(text) {
    if (text.length <= CELL_CHARS) return shown(text);
    return el(
      'span',
      {},
      text.slice(0, CELL_CHARS),
      el('span', { class: 'more' }, t('truncated', { n: text.length - CELL_CHARS })),
    );
  }

  Object.assign(app, { dateText, rowsText, rowName, valueText, valueNode });
}
