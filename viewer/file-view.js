// One of the person's files, shown as the browser can without running
// anything in it: a picture, a player, or a link to open it.
'use strict';
{
  const app = window.exporterApp;
  const { el, t, archiveHref, link } = app;

  function fileName(path) {
    return String(path).split('/').pop();
  }

  const IMAGE = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'avif', 'bmp', 'svg', 'ico']);
  const AUDIO = new Set(['mp3', 'wav', 'ogg', 'oga', 'opus', 'm4a', 'aac', 'flac', 'weba']);
  const VIDEO = new Set(['mp4', 'm4v', 'webm', 'ogv', 'mov']);
  /**
   * Files a browser shows without running anything in them, or hands to
   * another program: these are linked to be opened. Every other type (HTML,
   * XHTML, SVG as a document, XML, MHT, scripts, and any type not listed
   * here, which a browser may sniff as HTML) is not: a page opened from a
   * file someone else uploaded would run with the archive's folder at hand.
   */
  const PASSIVE = new Set([
    'pdf',
    'txt',
    'text',
    'csv',
    'tsv',
    'json',
    'md',
    'log',
    'rtf',
    'doc',
    'docx',
    'xls',
    'xlsx',
    'ppt',
    'pptx',
    'odt',
    'ods',
    'odp',
    'epub',
    'zip',
    'gz',
    'tgz',
    'tar',
    '7z',
    'heic',
    'heif',
    'tif',
    'tiff',
  ]);

  function extensionOf(path) {
    const name = fileName(path);
    return name.includes('.') ? name.split('.').pop().toLowerCase() : '';
  }

  function mediaKind(path) {
    const ext = extensionOf(path);
    if (IMAGE.has(ext)) return 'image';
    if (AUDIO.has(ext)) return 'audio';
    if (VIDEO.has(ext)) return 'video';
    return 'other';
  }

  /** A picture, as an <img> (where an SVG runs nothing); a click shows it on a page of this viewer, never the file as a document. */
  function picture(path, href, big) {
    const name = fileName(path);
    const img = el('img', { alt: t('imageAlt', { name }), loading: big ? null : 'lazy', decoding: 'async' });
    img.src = href;
    img.onerror = () => img.replaceWith(el('span', { class: 'cannot' }, t('cannotShow', { name })));
    return big ? img : link('page', { view: 'file', path }, img);
  }

  /** The link to open a file: only a passive type's; any other file is named with where it is, and why it is not opened here. */
  function openLink(path) {
    const name = fileName(path);
    if (!PASSIVE.has(extensionOf(path)))
      return el('span', { class: 'not-opened' }, el('code', {}, String(path)), ' ', t('notOpened', { name }));
    const a = link('archive', path, t('fileLink', { name }));
    if (a.tagName === 'A') a.rel = 'noopener noreferrer';
    return a;
  }

  /** A file inside the archive shown as the browser can: a picture, a player, or a link. */
  function fileView(path, big = false) {
    const href = archiveHref(path);
    if (href === null) return el('span', {}, String(path));
    const name = fileName(path);
    const kind = mediaKind(path);
    if (kind === 'image')
      return el(
        'figure',
        { class: big ? 'picture big' : 'picture' },
        picture(path, href, big),
        el('figcaption', {}, link('page', { view: 'file', path }, name)),
      );
    if (kind === 'audio' || kind === 'video') {
      const player = el(kind, { controls: true, preload: 'metadata', 'aria-label': name });
      player.src = href;
      player.onerror = () => player.replaceWith(el('span', { class: 'cannot' }, t('cannotShow', { name })));
      return el('figure', { class: kind }, player, el('figcaption', {}, name));
    }
    return openLink(path);
  }

  Object.assign(app, { fileName, mediaKind, fileView });
}
