// An entity's rows as a table a screen reader can read (a caption, a header
// per column with aria-sort, a header per row): filtered, sorted by a column,
// a page of rows at a time; drawn again into its area on every change.
'use strict';
{
  const app = window.exporterApp;
  const { el, fill, t, link, pager, state, isExactNumber, entityNamed, rowByKey } = app;
  const { rowName, valueText, valueNode } = app;
  const PAGE_ROWS = 50;

  /** What the person chose for an entity's table: kept while they look at other pages. */
  function viewOf(entity) {
    if (!state.views.has(entity.name))
      state.views.set(entity.name, { filter: '', sort: null, descending: false, page: 0 });
    return state.views.get(entity.name);
  }

  /** The rows that match the filter, in the chosen order, as indexes into data.rows. */
  function visibleRows(entity, data, view) {
    data.search ??= data.rows.map((row) =>
      entity.columns
        .map((c) => searchText(entity, c, row[c.name]))
        .join('\u0000')
        .toLocaleLowerCase(),
    );
    const needle = view.filter.trim().toLocaleLowerCase();
    const indexes = [];
    for (let i = 0; i < data.rows.length; i++) if (needle === '' || data.search[i].includes(needle)) indexes.push(i);
    if (view.sort !== null) {
      const column = view.sort;
      const sign = view.descending ? -1 : 1;
      indexes.sort((x, y) => sign * compare(data.rows[x][column], data.rows[y][column]) || x - y);
    }
    return indexes;
  }

  /** What the filter looks in: the value, and for a reference the label shown for it too. */
  function searchText(entity, column, value) {
    const reference = (entity.references ?? []).find((r) => r.column === column.name);
    const target = reference && entityNamed(reference.entity);
    const index = target ? rowByKey(target, value) : -1;
    return index >= 0
      ? `${valueText(value)}\u0000${rowName(target, state.data.get(target.name).rows[index], index)}`
      : valueText(value);
  }

  function compare(a, b) {
    const aEmpty = a === null || a === undefined;
    const bEmpty = b === null || b === undefined;
    if (aEmpty || bEmpty) return aEmpty === bEmpty ? 0 : aEmpty ? 1 : -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (isExactNumber(a) || isExactNumber(b))
      return (
        Number(valueText(a)) - Number(valueText(b)) ||
        valueText(a).localeCompare(valueText(b), undefined, { numeric: true })
      );
    return valueText(a).localeCompare(valueText(b), undefined, { numeric: true });
  }

  /** The table's caption: which rows of how many are shown, or that none is. */
  function captionText(entity, view, from, shownRows, total) {
    const filtered = view.filter.trim() !== '';
    if (total === 0) return t(filtered ? 'tableCaptionNoMatch' : 'tableCaptionEmpty', { entity: entity.name });
    return t(filtered ? 'tableCaptionFiltered' : 'tableCaption', {
      entity: entity.name,
      from: from + 1,
      to: from + shownRows,
      n: total,
    });
  }

  /** The header row: a header per column, whose button sorts by it (ascending first, then the other way). */
  function headerRow(entity, view, area, redraw) {
    return el(
      'tr',
      {},
      el('th', { scope: 'col' }, t('rowHeader')),
      entity.columns.map((c) => {
        const sorted = view.sort === c.name;
        const button = el(
          'button',
          { type: 'button', 'aria-describedby': `col-${c.name}-about`, title: c.description },
          c.name,
          el('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted ? (view.descending ? ' ▼' : ' ▲') : ''),
        );
        button.addEventListener('click', () => {
          view.descending = sorted ? !view.descending : false;
          view.sort = c.name;
          redraw();
          area.querySelector(`th[data-column="${CSS.escape(c.name)}"] button`)?.focus();
        });
        return el(
          'th',
          {
            scope: 'col',
            'data-column': c.name,
            'aria-sort': sorted ? (view.descending ? 'descending' : 'ascending') : 'none',
          },
          button,
        );
      }),
    );
  }

  /** One row: its header links to the row's own page, then a cell per column. */
  function bodyRow(entity, row, i) {
    return el(
      'tr',
      {},
      el(
        'th',
        { scope: 'row' },
        link('page', { view: 'row', entity: entity.name, row: String(i) }, t('openRow', { n: i + 1 })),
      ),
      entity.columns.map((c) =>
        el('td', { class: c.kind === 'timestamptz' ? 'time' : null }, valueNode(entity, c, row[c.name], false)),
      ),
    );
  }

  /** The table of the rows the view shows, with a status line for screen readers and, when there are several pages, a pager. */
  function drawTable(entity, data, area) {
    const view = viewOf(entity);
    const indexes = visibleRows(entity, data, view);
    const pages = Math.max(1, Math.ceil(indexes.length / PAGE_ROWS));
    view.page = Math.min(view.page, pages - 1);
    const from = view.page * PAGE_ROWS;
    const slice = indexes.slice(from, from + PAGE_ROWS);
    const caption = captionText(entity, view, from, slice.length, indexes.length);
    const redraw = () => drawTable(entity, data, area);
    const table = el(
      'table',
      {},
      el('caption', { id: 'caption' }, caption),
      el('thead', {}, headerRow(entity, view, area, redraw)),
      el(
        'tbody',
        {},
        slice.map((i) => bodyRow(entity, data.rows[i], i)),
      ),
    );
    const pagerNav =
      pages > 1 &&
      pager(view.page, pages, (page) => {
        view.page = page;
        redraw();
        area.querySelector('caption')?.scrollIntoView({ block: 'nearest' });
      });
    fill(
      area,
      el('p', { class: 'sr-only', role: 'status' }, caption),
      el('div', { class: 'scroll', role: 'region', 'aria-labelledby': 'caption', tabindex: '0' }, table),
      pagerNav,
    );
  }

  Object.assign(app, { viewOf, drawTable });
}
