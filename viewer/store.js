// The archive's data as the page holds it, and its data files (viewer/data/),
// each loaded when a page first needs it. They arrive sealed: sealed-data.js
// opens them and hands their parts to what waits here.
'use strict';
{
  const app = window.exporterApp;

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

  /** A number parseRow() kept as its own text. */
  function isExactNumber(value) {
    return EXACT && JSON.isRawJSON(value);
  }

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

  function entityNamed(name) {
    return state.archive.entities.find((e) => e.name === name);
  }

  /** The row of `entity` whose key is `value`, where the page holds it. */
  function rowByKey(entity, value) {
    const data = state.data.get(entity.name);
    if (!data || !entity.key) return -1;
    data.byKey ??= new Map(data.rows.map((row, i) => [String(row[entity.key]), i]));
    return data.byKey.get(String(value)) ?? -1;
  }

  Object.assign(app, { state, isExactNumber, entityData, fileList, referencedData, entityNamed, rowByKey });
}
