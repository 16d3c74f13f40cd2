// Navigation: the bar of sections at the top, and the page's address after #
// says what to show (#view=entity&entity=…, #view=row&…, #view=files,
// #view=file&path=…; nothing: the overview).
'use strict';
{
  const app = window.exporterApp;
  const { el, fill, t, link, main, state, entityNamed } = app;
  const { overview, entityPage, rowPage, filesPage, filePage } = app;

  /** The bar at the top: the overview, each entity, and the person's files when there are any. */
  function navigation() {
    fill(
      document.getElementById('nav'),
      el('li', {}, link('page', {}, t('navOverview'))),
      state.archive.entities.map((e) => el('li', {}, link('page', { view: 'entity', entity: e.name }, e.name))),
      state.archive.files_data && el('li', {}, link('page', { view: 'files' }, t('navFiles'))),
    );
  }

  /** The parts of the page the address asks for. */
  function pageFor(params) {
    const view = params.get('view');
    const entity = params.get('entity') !== null ? entityNamed(params.get('entity')) : undefined;
    if (view === null) return overview();
    if (view === 'entity' && entity) return entityPage(entity);
    if (view === 'row' && entity && /^\d+$/.test(params.get('row') ?? ''))
      return rowPage(entity, Number(params.get('row')));
    if (view === 'files') return filesPage();
    if (view === 'file' && params.get('path') !== null) return filePage(params.get('path'));
    return [el('h1', { tabindex: '-1' }, t('title')), el('p', {}, t('notFound'))];
  }

  let rendering = 0;
  /** Draws the page the address asks for; `moveFocus`: its heading takes the focus (the address changed). */
  async function render(moveFocus) {
    const turn = ++rendering;
    let parts;
    try {
      parts = await pageFor(new URLSearchParams(location.hash.slice(1)));
    } catch (error) {
      parts = [
        el('h1', { tabindex: '-1' }, t('title')),
        el(
          'p',
          { class: 'notice', role: 'alert' },
          t('loadFailed', { file: error instanceof Error ? error.message : String(error) }),
        ),
      ];
    }
    if (turn !== rendering) return; // a later address won
    fill(main(), parts);
    document.title = `${main().querySelector('h1')?.textContent ?? t('title')} · ${t('title')}`;
    if (moveFocus) main().querySelector('h1')?.focus();
    main().dataset.ready = 'true';
  }

  Object.assign(app, { navigation, render });
}
