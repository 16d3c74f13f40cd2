// The first page: whose data this is and as of when, every entity with its
// number of rows, the person's files, and what the folders beside this page hold.
'use strict';
{
  const app = window.exporterApp;
  const { el, t, link, state, dateText, rowsText, filesSummary } = app;

  async function overview() {
    const a = state.archive;
    return [
      el('h1', { tabindex: '-1' }, t('title')),
      el('p', {}, t('asOf', { date: dateText(a.as_of) })),
      el('p', {}, t('linkExpires', { date: dateText(a.link_expires_at) })),
      el('h2', {}, t('holdsHeading')),
      el('ul', { class: 'entities' }, a.entities.map(entityItem)),
      ...(await filesSummary()),
      el('h2', {}, t('helpHeading')),
      el('p', {}, t('help')),
      el(
        'p',
        { class: 'small' },
        t('whoseArchive', { user: a.user_id, request: a.request_id, version: a.exporter_version }),
      ),
    ];
  }

  /** An entity in the overview's list: its name (a link to its page), its number of rows, what it is. */
  function entityItem(e) {
    return el(
      'li',
      {},
      link('page', { view: 'entity', entity: e.name }, e.name),
      ' ',
      el(
        'span',
        { class: 'count' },
        rowsText(e.rows),
        e.shown < e.rows ? ` (${t('shownOnly', { shown: e.shown })})` : '',
      ),
      el('p', { class: 'description' }, e.description),
    );
  }

  Object.assign(app, { overview });
}
