// An entity's page (what it is, what its columns mean, how it is used, its
// files, the filter and its table) and one row's page (every value in full).
'use strict';
{
  const app = window.exporterApp;
  const { el, t, link, entityData, referencedData, viewOf, drawTable, rowName, valueNode } = app;

  async function entityPage(entity) {
    const data = await entityData(entity);
    // The entities it refers to, for their rows' labels.
    await referencedData(entity);
    const view = viewOf(entity);
    const tableArea = el('div', { class: 'table-area' });
    const filter = el('input', { type: 'search', id: 'filter', autocomplete: 'off', spellcheck: 'false' });
    filter.value = view.filter;
    filter.addEventListener('input', () => {
      view.filter = filter.value;
      view.page = 0;
      drawTable(entity, data, tableArea);
    });
    drawTable(entity, data, tableArea);
    const rest = entity.rows - entity.shown;
    return [
      el('h1', { tabindex: '-1' }, entity.name),
      el('p', { class: 'description' }, entity.description),
      rest > 0 &&
        el(
          'p',
          { class: 'notice', role: 'note' },
          t('restOnlyInFiles', { shown: entity.shown, rows: entity.rows, rest }),
        ),
      el(
        'p',
        { class: 'sources' },
        t('sourceFilesIntro'),
        ' ',
        entity.files.flatMap((f, i) => [i > 0 ? ', ' : '', link('archive', f, f)]),
      ),
      columnsDetails(entity),
      processingDetails(entity),
      el('div', { class: 'filter' }, el('label', { for: 'filter' }, t('filterLabel')), filter),
      tableArea,
    ];
  }

  /** What each column means, from the definition (a column's sort button is described by its entry). */
  function columnsDetails(entity) {
    return el(
      'details',
      { class: 'columns' },
      el('summary', {}, t('columnsHeading')),
      el(
        'dl',
        {},
        entity.columns.flatMap((c) => [
          el('dt', { id: `col-${c.name}` }, c.name),
          el('dd', { id: `col-${c.name}-about` }, c.description),
        ]),
      ),
    );
  }

  /** GDPR Art. 15(1), as the definition says it: why this data is used, on what basis, who gets it, for how long. */
  function processingDetails(entity) {
    if (!entity.processing || entity.processing.length === 0) return null;
    return el(
      'details',
      { class: 'columns processing' },
      el('summary', {}, t('processingHeading')),
      el(
        'dl',
        {},
        entity.processing.flatMap((p) => [
          el('dt', {}, t(`processing_${p.field}`)),
          el('dd', {}, Array.isArray(p.value) ? p.value.join('; ') : String(p.value)),
        ]),
      ),
    );
  }

  async function rowPage(entity, index) {
    const data = await entityData(entity);
    await referencedData(entity);
    const row = data.rows[index];
    const back = el('p', {}, link('page', { view: 'entity', entity: entity.name }, t('back', { entity: entity.name })));
    if (!row) return [el('h1', { tabindex: '-1' }, entity.name), el('p', {}, t('rowNotShown')), back];
    return [
      el('h1', { tabindex: '-1' }, t('rowHeading', { entity: entity.name, row: rowName(entity, row, index) })),
      back,
      el(
        'dl',
        { class: 'row' },
        entity.columns.flatMap((c) => [
          el('dt', {}, c.name, el('span', { class: 'about' }, c.description)),
          el('dd', {}, valueNode(entity, c, row[c.name], true)),
        ]),
      ),
    ];
  }

  Object.assign(app, { entityPage, rowPage });
}
