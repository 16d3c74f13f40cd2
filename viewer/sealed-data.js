// The archive's data, sealed under the key only this page holds
// (src/viewer/seal.ts), and the one door the data scripts call:
// window.exporterViewer. viewer/entities.js calls entities(); viewer/archive.js
// and viewer/data/*.js call sealed(); what each holds is opened here and
// handed to what waits for it (store.js).
'use strict';
{
  const app = window.exporterApp;
  const { state, el, t, main } = app;

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
      app.start();
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
}
