// The pager under a table or a list of files: previous and next page.
'use strict';
{
  const app = window.exporterApp;
  const { el, t } = app;

  /** Previous and next buttons around "Page n of m"; `go(page)` shows that page (0-based). */
  function pager(page, pages, go) {
    const button = (text, enabled, to) => {
      const b = el('button', { type: 'button', disabled: !enabled }, text);
      b.addEventListener('click', () => go(to));
      return b;
    };
    return el(
      'nav',
      { class: 'pager', 'aria-label': t('pages') },
      button(t('previous'), page > 0, page - 1),
      el('span', {}, t('pageOf', { page: page + 1, pages })),
      button(t('next'), page < pages - 1, page + 1),
    );
  }

  Object.assign(app, { pager });
}
