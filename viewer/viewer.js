// The archive's offline viewer (README: the viewer). Plain JavaScript run by
// the browser as it is: no build step, no framework, no network.
//
// Safety rules, because every value shown was stored by an application and may
// have been typed by anyone (README: the viewer, "hostile data"):
// - every value becomes a text node (textContent); nothing is ever parsed as
//   HTML: no innerHTML, no string-built markup;
// - only https: and mailto: addresses and paths inside the archive become
//   links, each checked here; a file link points inside the archive only;
// - invisible and direction-changing characters are shown as visible marks,
//   so a file named "txt.exe" cannot pretend to be "exe.txt";
// - the page's Content-Security-Policy (index.html) forbids any request
//   outside the archive's folder and any inline script;
// - a user's file of a type a browser would run (HTML, SVG as a document,
//   XML, MHT, or any type not known to be passive) is never linked to be
//   opened: pictures are shown as <img>, where an SVG runs nothing;
// - the data arrives sealed (src/viewer/seal.ts): only this page holds the
//   key, in its <meta name="exporter-archive-key">, so a page that is not the
//   archive's index.html gets nothing from loading the data scripts.
'use strict';
(() => {
  const W = window.exporterWords;
  const PAGE_ROWS = 50;
  const PAGE_FILES = 60;
  const CELL_CHARS = 160;
  const state = {
    archive: null,
    /** entity name -> { rows: parsed rows, search: lower-cased text per row } */
    data: new Map(),
    /** data file path -> Promise */
    loading: new Map(),
    /** entity name -> { resolve(row texts), reject(error) } */
    waiting: new Map(),
    /** entity name -> row texts that came in a file loaded for another entity */
    arrived: new Map(),
    files: null,
    filesWaiting: null,
    /** viewer/entities.js: columns, descriptions, labels, references, Art. 15 information */
    definitions: null,
    /** entity name -> { filter, sort, descending, page } */
    views: new Map(),
    filesPage: 0,
    /** Set when a data script could not be opened (no key, a browser without WebCrypto, a damaged file). */
    broken: null,
  };

  // ---- words -------------------------------------------------------------

  /** A text from words.js with its {names} filled in (numbers written as the reader's locale writes them). */
  function t(key, values) {
    const text = W[key] ?? key;
    return text.replace(/\{([a-z]+)\}/g, (whole, name) => {
      const v = values?.[name];
      if (v === undefined) return whole;
      return typeof v === 'number' ? v.toLocaleString() : String(v);
    });
  }

  function dateText(iso, style = 'long') {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.toLocaleString(undefined, { dateStyle: style, timeStyle: 'short', timeZone: 'UTC' })} UTC`;
  }

  // ---- building the page: elements and text only --------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props ?? {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'href' || k === 'src') throw new Error('links are made by link() and media by media()');
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const child of children) append(node, child);
    return node;
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) for (const c of child) append(node, c);
    else if (child instanceof Node) node.append(child);
    else node.append(shown(String(child)));
  }

  /**
   * Text as text nodes, with characters that are invisible or reorder the
   * text around them (bidi overrides and isolates, controls, zero-width
   * spaces, line and paragraph separators, byte order marks) shown as marks.
   * Zero-width joiners stay: emoji are made of them.
   */
  const HIDDEN =
    /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/g;
  function shown(text) {
    const fragment = document.createDocumentFragment();
    let at = 0;
    for (const m of text.matchAll(HIDDEN)) {
      if (m.index > at) fragment.append(document.createTextNode(text.slice(at, m.index)));
      const code = `U+${m[0].codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
      const mark = document.createElement('span');
      mark.className = 'hidden-char';
      mark.title = t('invisible', { code });
      mark.textContent = `[${code}]`;
      fragment.append(mark);
      at = m.index + m[0].length;
    }
    if (at < text.length) fragment.append(document.createTextNode(text.slice(at)));
    return fragment;
  }

  /** A path inside the archive as a relative URL (each part encoded), or null for anything else. */
  function archiveHref(path) {
    if (typeof path !== 'string' || !/^(files|json|csv)\//.test(path)) return null;
    const parts = path.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..' || /[\\\u0000-\u001f\u007f]/.test(p))) return null;
    return parts.map(encodeURIComponent).join('/');
  }

  /** An https: address as it is, or null. */
  function httpsHref(text) {
    if (typeof text !== 'string' || !/^https:\/\/[^\s]+$/i.test(text)) return null;
    try {
      const url = new URL(text);
      return url.protocol === 'https:' ? url.href : null;
    } catch {
      return null;
    }
  }

  /** A plain email address as a mailto: link, or null. */
  function mailtoHref(text) {
    const m = typeof text === 'string' && /^([^\s@<>()[\]\\,;:"']+)@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$/.exec(text);
    return m ? `mailto:${encodeURIComponent(m[1])}@${m[2]}` : null;
  }

  /** Links: within this page (#…), inside the archive, https: or mailto:, made only from what the functions above allow. */
  function link(kind, target, ...children) {
    let href = null;
    if (kind === 'page') href = `#${new URLSearchParams(target).toString()}`;
    else if (kind === 'archive') href = archiveHref(target);
    else if (kind === 'web') href = httpsHref(target) ?? mailtoHref(target);
    if (href === null) return el('span', {}, ...children);
    const a = el('a', {}, ...children);
    a.href = href;
    if (kind === 'web') {
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
    }
    return a;
  }

  // ---- data files, loaded on demand ----------------------------------------

  const DATA_PATH = /^viewer\/data\/[a-z0-9_-]+\.js$/;

  function loadScript(path) {
    if (!DATA_PATH.test(path)) return Promise.reject(new Error(path));
    if (!state.loading.has(path)) {
      state.loading.set(
        path,
        new Promise((resolve, reject) => {
          const script = document.createElement('script');
          script.src = path;
          script.onload = resolve;
          script.onerror = () => reject(new Error(path));
          document.head.append(script);
        }),
      );
    }
    return state.loading.get(path);
  }

  async function entityData(entity) {
    if (!state.data.has(entity.name)) {
      // Rows that came with the overview (entity.data null) or with another entity's file are here already.
      const here = state.arrived.get(entity.name) ?? (entity.data === null ? [] : undefined);
      if (state.broken) throw state.broken;
      const texts = here
        ? Promise.resolve(here)
        : new Promise((resolve, reject) => state.waiting.set(entity.name, { resolve, reject }));
      if (!here) await loadScript(entity.data);
      // Each text holds whole rows, one JSON text per line.
      const rows = (await texts).flatMap((text) => (text === '' ? [] : text.split('\n'))).map(parseRow);
      state.arrived.delete(entity.name);
      state.data.set(entity.name, { rows, search: null });
    }
    return state.data.get(entity.name);
  }

  async function fileList() {
    if (state.files === null && state.archive.files_data) {
      if (state.broken) throw state.broken;
      const list = new Promise((resolve, reject) => (state.filesWaiting = { resolve, reject }));
      await loadScript(state.archive.files_data);
      state.files = await list;
    }
    return state.files ?? [];
  }

  /** The rows of the entities this one refers to, for their labels (one that cannot be loaded only costs its labels). */
  function referencedData(entity) {
    const targets = (entity.references ?? []).map((r) => entityNamed(r.entity)).filter(Boolean);
    return Promise.all(targets.map((target) => entityData(target).catch(() => null)));
  }

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

  function entityNamed(name) {
    return state.archive.entities.find((e) => e.name === name);
  }

  // ---- values ----------------------------------------------------------------

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

  /** The row of `entity` whose key is `value`, where the page holds it. */
  function rowByKey(entity, value) {
    const data = state.data.get(entity.name);
    if (!data || !entity.key) return -1;
    data.byKey ??= new Map(data.rows.map((row, i) => [String(row[entity.key]), i]));
    return data.byKey.get(String(value)) ?? -1;
  }

  function valueText(value) {
    if (value === null || value === undefined) return '';
    if (isExactNumber(value)) return value.rawJSON;
    if (typeof value === 'object') return jsonText(value, false);
    return String(value);
  }

  /**
   * A row's JSON line, parsed. A number past what a double holds exactly
   * (a bigint, a json value's 12345678901234567890) keeps its own digits where
   * the browser can (JSON.parse's source text and JSON.rawJSON: Chromium 114,
   * Firefox 135); elsewhere it shows as the browser reads it, and the files
   * hold every digit.
   */
  const EXACT = typeof JSON.rawJSON === 'function' && typeof JSON.isRawJSON === 'function';
  function parseRow(line) {
    if (!EXACT || !/\d{16}/.test(line)) return JSON.parse(line);
    return JSON.parse(line, (_key, value, context) =>
      typeof value === 'number' && typeof context?.source === 'string' ? exactNumber(value, context.source) : value,
    );
  }

  /** A number as a double where that is exact, else its own text (an integer past 2^53, a decimal of more than 15 digits). */
  function exactNumber(value, source) {
    if (/^-?\d+$/.test(source)) return Number.isSafeInteger(value) ? value : JSON.rawJSON(source);
    const digits = source
      .replace(/^-/, '')
      .replace(/[eE].*$/, '')
      .replace('.', '')
      .replace(/^0+/, '');
    return digits.length > 15 ? JSON.rawJSON(source) : value;
  }

  function isExactNumber(value) {
    return EXACT && JSON.isRawJSON(value);
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

  // ---- views ---------------------------------------------------------------

  const main = () => document.getElementById('main');

  function navigation() {
    const nav = document.getElementById('nav');
    nav.replaceChildren(
      el('li', {}, link('page', {}, t('navOverview'))),
      ...state.archive.entities.map((e) => el('li', {}, link('page', { view: 'entity', entity: e.name }, e.name))),
      state.archive.files_data ? el('li', {}, link('page', { view: 'files' }, t('navFiles'))) : null,
    );
  }

  function rowsText(n) {
    return n === 1 ? t('rowCountOne') : t('rowCount', { n });
  }

  async function overview() {
    const a = state.archive;
    const parts = [
      el('h1', { tabindex: '-1' }, t('title')),
      el('p', {}, t('asOf', { date: dateText(a.as_of) })),
      el('p', {}, t('linkExpires', { date: dateText(a.link_expires_at) })),
      el('h2', {}, t('holdsHeading')),
      el(
        'ul',
        { class: 'entities' },
        a.entities.map((e) =>
          el(
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
          ),
        ),
      ),
      ...(await filesSummary()),
      el('h2', {}, t('helpHeading')),
      el('p', {}, t('help')),
      el(
        'p',
        { class: 'small' },
        t('whoseArchive', { user: a.user_id, request: a.request_id, version: a.exporter_version }),
      ),
    ];
    return parts;
  }

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

  function viewOf(entity) {
    if (!state.views.has(entity.name))
      state.views.set(entity.name, { filter: '', sort: null, descending: false, page: 0 });
    return state.views.get(entity.name);
  }

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
      rest > 0
        ? el(
            'p',
            { class: 'notice', role: 'note' },
            t('restOnlyInFiles', { shown: entity.shown, rows: entity.rows, rest }),
          )
        : null,
      el(
        'p',
        { class: 'sources' },
        t('sourceFilesIntro'),
        ' ',
        entity.files.flatMap((f, i) => [i > 0 ? ', ' : '', link('archive', f, f)]),
      ),
      el(
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
      ),
      processingDetails(entity),
      el('div', { class: 'filter' }, el('label', { for: 'filter' }, t('filterLabel')), filter),
      tableArea,
    ];
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

  function drawTable(entity, data, area) {
    const view = viewOf(entity);
    const indexes = visibleRows(entity, data, view);
    const pages = Math.max(1, Math.ceil(indexes.length / PAGE_ROWS));
    view.page = Math.min(view.page, pages - 1);
    const from = view.page * PAGE_ROWS;
    const slice = indexes.slice(from, from + PAGE_ROWS);
    const filtered = view.filter.trim() !== '';
    const caption =
      indexes.length === 0
        ? t(filtered ? 'tableCaptionNoMatch' : 'tableCaptionEmpty', { entity: entity.name })
        : t(filtered ? 'tableCaptionFiltered' : 'tableCaption', {
            entity: entity.name,
            from: from + 1,
            to: from + slice.length,
            n: indexes.length,
          });
    const head = el(
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
          drawTable(entity, data, area);
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
    const body = slice.map((i) => {
      const row = data.rows[i];
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
    });
    const table = el(
      'table',
      {},
      el('caption', { id: 'caption' }, caption),
      el('thead', {}, head),
      el('tbody', {}, body),
    );
    const pagerNav = pager(view.page, pages, (page) => {
      view.page = page;
      drawTable(entity, data, area);
      area.querySelector('caption')?.scrollIntoView({ block: 'nearest' });
    });
    area.replaceChildren(
      el('p', { class: 'sr-only', role: 'status' }, caption),
      el('div', { class: 'scroll', role: 'region', 'aria-labelledby': 'caption', tabindex: '0' }, table),
      pages > 1 ? pagerNav : null,
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
      pages > 1
        ? pager(state.filesPage, pages, (page) => {
            state.filesPage = page;
            render();
          })
        : null,
    ];
  }

  // ---- routing: the page's address after # says what to show -------------

  let rendering = 0;
  async function render(moveFocus) {
    const turn = ++rendering;
    const params = new URLSearchParams(location.hash.slice(1));
    const view = params.get('view');
    const entity = params.get('entity') !== null ? entityNamed(params.get('entity')) : undefined;
    let parts;
    try {
      if (view === null) parts = await overview();
      else if (view === 'entity' && entity) parts = await entityPage(entity);
      else if (view === 'row' && entity && /^\d+$/.test(params.get('row') ?? ''))
        parts = await rowPage(entity, Number(params.get('row')));
      else if (view === 'files') parts = await filesPage();
      else if (view === 'file' && params.get('path') !== null) parts = filePage(params.get('path'));
      else parts = [el('h1', { tabindex: '-1' }, t('title')), el('p', {}, t('notFound'))];
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
    main().replaceChildren(...parts.flat(2).filter(Boolean));
    document.title = `${main().querySelector('h1')?.textContent ?? t('title')} · ${t('title')}`;
    if (moveFocus) main().querySelector('h1')?.focus();
    main().dataset.ready = 'true';
  }

  function start() {
    document.documentElement.lang = W.lang;
    navigation();
    window.addEventListener('hashchange', () => render(true));
    render(false);
  }

  // ---- the archive's data, sealed under the key only this page holds (src/viewer/seal.ts)

  const KEY_TEXT = document.querySelector('meta[name="exporter-archive-key"]')?.getAttribute('content') ?? '';
  let archiveKey = null;

  function bytesOf(base64) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(base64);
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  /** A data script's bytes: the IV, then AES-GCM's ciphertext and tag, of deflated sections. */
  async function unseal(base64) {
    if (!globalThis.crypto?.subtle || typeof DecompressionStream !== 'function') throw new Error(t('browserTooOld'));
    archiveKey ??= crypto.subtle.importKey('raw', bytesOf(KEY_TEXT), 'AES-GCM', false, ['decrypt']);
    const sealed = bytesOf(base64);
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.subarray(0, 12) },
      await archiveKey,
      sealed.subarray(12),
    );
    const inflated = new Blob([plain]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(inflated).arrayBuffer());
  }

  /** Each section: a JSON line saying what it is and how many bytes follow, then those bytes. */
  function* sections(bytes) {
    const decoder = new TextDecoder();
    for (let at = 0; at < bytes.length; ) {
      const end = bytes.indexOf(10, at);
      const header = JSON.parse(decoder.decode(bytes.subarray(at, end)));
      yield [header, decoder.decode(bytes.subarray(end + 1, end + 1 + header.bytes))];
      at = end + 1 + header.bytes;
    }
  }

  function receive(header, text) {
    if (header.kind === 'archive') {
      const info = JSON.parse(text);
      const defined = new Map((state.definitions ?? []).map((e) => [e.name, e]));
      state.archive = { ...info, entities: info.entities.map((e) => ({ ...defined.get(e.name), ...e })) };
      start();
    } else if (header.kind === 'rows') {
      // A data file may hold several entities' rows: those nobody waits for yet are kept for later.
      const rows = [text.endsWith('\n') ? text.slice(0, -1) : text];
      if (state.waiting.has(header.entity)) state.waiting.get(header.entity).resolve(rows);
      else state.arrived.set(header.entity, rows);
      state.waiting.delete(header.entity);
    } else if (header.kind === 'files') {
      state.filesWaiting?.resolve(JSON.parse(text));
      state.filesWaiting = null;
    }
  }

  /** Data that cannot be opened: said on the page, and whatever waits for data is told. */
  function unreadable(error) {
    state.broken = error;
    for (const waiting of state.waiting.values()) waiting.reject(error);
    state.waiting.clear();
    state.filesWaiting?.reject(error);
    state.filesWaiting = null;
    if (!state.archive) {
      document.getElementById('loading')?.replaceWith(el('p', { class: 'notice', role: 'alert' }, t('unreadable')));
      main().dataset.ready = 'true';
    }
  }

  // Sealed scripts arrive in the order the page loads them, and are opened in that order.
  let opening = Promise.resolve();

  window.exporterViewer = Object.freeze({
    // viewer/entities.js: what the definition says of each entity (the same in every archive, nothing of the person's).
    entities(list) {
      state.definitions = list;
    },
    // viewer/archive.js and viewer/data/*.js: this archive's overview, rows and files.
    sealed(base64) {
      opening = opening
        .then(() => unseal(String(base64)))
        .then((bytes) => {
          for (const [header, text] of sections(bytes)) receive(header, text);
        })
        .catch(unreadable);
    },
  });
})();
