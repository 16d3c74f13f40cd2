// The person's files: how many are in the archive and which are not (on the
// overview too), the list of them a page at a time, and one file on a page
// of its own.
'use strict';
{
  const app = window.exporterApp;
  const { el, t, link, archiveHref, pager, state, fileList, fileName, mediaKind, fileView } = app;
  const PAGE_FILES = 60;

  /** How many of the user's files are here, and in plain words which are not and why. */
  async function filesSummary() {
    const counts = state.archive.file_counts;
    const total = counts.included + counts.missing + counts.too_large + counts.failed;
    if (total === 0) return [];
    const parts = [
      el('h2', {}, t('filesHeading')),
      el(
        'p',
        {},
        t('filesSummary', { included: counts.included, total }),
        ' ',
        link('page', { view: 'files' }, t('openFiles')),
      ),
    ];
    const notHere = total - counts.included;
    if (notHere > 0) {
      const missing = (await fileList()).filter((f) => f.outcome !== 'included');
      parts.push(el('p', {}, t('filesNotHere', { n: notHere })));
      parts.push(
        el(
          'ul',
          {},
          missing.map((f) => el('li', {}, el('code', {}, f.path), ': ', t(`why_${f.outcome}`))),
        ),
      );
      if (missing.length < notHere) parts.push(el('p', {}, t('filesListedOnly', { listed: missing.length })));
    }
    return parts;
  }

  async function filesPage() {
    const files = (await fileList()).filter((f) => f.outcome === 'included');
    const from = state.filesPage * PAGE_FILES;
    const slice = files.slice(from, from + PAGE_FILES);
    const groups = { image: [], audio: [], video: [], other: [] };
    for (const f of slice) groups[mediaKind(f.path)].push(f);
    const headings = { image: 'imagesHeading', audio: 'audioHeading', video: 'videoHeading', other: 'otherHeading' };
    const pages = Math.max(1, Math.ceil(files.length / PAGE_FILES));
    return [
      el('h1', { tabindex: '-1' }, t('filesHeading')),
      ...(await filesSummary()).slice(1),
      files.length > 0
        ? el('p', { role: 'status' }, t('morePages', { from: from + 1, to: from + slice.length, n: files.length }))
        : el('p', {}, t('filesNone')),
      Object.entries(groups)
        .filter(([, list]) => list.length > 0)
        .map(([kind, list]) => [
          el('h2', {}, t(headings[kind])),
          el(
            kind === 'other' ? 'ul' : 'div',
            { class: kind === 'image' ? 'gallery' : 'media-list' },
            list.map((f) => (kind === 'other' ? el('li', {}, fileView(f.path)) : fileView(f.path))),
          ),
        ]),
      pages > 1 &&
        pager(state.filesPage, pages, (page) => {
          state.filesPage = page;
          app.render();
        }),
    ];
  }

  /** One of the user's files on a page of its own: a picture at full size, with its name and where it is. */
  function filePage(path) {
    if (archiveHref(path) === null) return [el('h1', { tabindex: '-1' }, t('title')), el('p', {}, t('notFound'))];
    return [
      el('h1', { tabindex: '-1' }, fileName(path)),
      el('p', {}, link('page', { view: 'files' }, t('backToFiles'))),
      fileView(path, true),
      el('p', {}, t('fileWhere', { path })),
    ];
  }

  Object.assign(app, { filesSummary, filesPage, filePage });
}
