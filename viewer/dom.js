// The archive's offline viewer (README: the viewer). Plain JavaScript run by
// the browser as it is: no build step, no framework, no network.
//
// Its code is in classic scripts that index.html runs in order (deferred).
// Not ES modules: Chromium does not load a module into a page opened from
// file://, which is how the person opens the unpacked archive. Each file is
// one block, so what it declares stays in it (in strict code a block keeps
// its functions to itself), and it adds what later files use to one shared
// object, window.exporterApp, made here. Where two files need each other (the
// router draws the files page; the files page's pager draws again through the
// router), the earlier one looks the other up when it runs: app.render().
// index.html lists the files and what each does.
//
// Safety rules, because every value shown was stored by an application and may
// have been typed by anyone (README: the viewer, "hostile data"):
// - every value becomes a text node (textContent); nothing is ever parsed as
//   HTML: no innerHTML, no string-built markup;
// - only https: and mailto: addresses and paths inside the archive become
//   links, each checked (links.js); a file link points inside the archive only;
// - invisible and direction-changing characters are shown as visible marks,
//   so a file named "txt.exe" cannot pretend to be "exe.txt";
// - the page's Content-Security-Policy (index.html) forbids any request
//   outside the archive's folder and any inline script;
// - a user's file of a type a browser would run (HTML, SVG as a document,
//   XML, MHT, or any type not known to be passive) is never linked to be
//   opened: pictures are shown as <img>, where an SVG runs nothing
//   (file-view.js);
// - the data arrives sealed (src/viewer/seal.ts): only this page holds the
//   key, in its <meta name="exporter-archive-key">, so a page that is not the
//   archive's index.html gets nothing from loading the data scripts
//   (sealed-data.js).
//
// This file: the words, and the only way anything reaches the page, as
// elements and text nodes.
'use strict';
window.exporterApp = {};
{
  const app = window.exporterApp;
  const W = window.exporterWords;

  /** A text from words.js with its {names} filled in (numbers written as the reader's locale writes them). */
  function t(key, values) {
    const text = W[key] ?? key;
    return text.replace(/\{([a-z]+)\}/g, (whole, name) => {
      const v = values?.[name];
      if (v === undefined) return whole;
      return typeof v === 'number' ? v.toLocaleString() : String(v);
    });
  }

  /** An element with these attributes and children (see append()); links are made by link(), media by file-view.js. */
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

  /** What `node` holds, replaced by `children`, by the same rules as el()'s (never the DOM's own replaceChildren(), which writes a null as "null"). */
  function fill(node, ...children) {
    const fragment = document.createDocumentFragment();
    for (const child of children) append(fragment, child);
    node.replaceChildren(fragment);
    return node;
  }

  /**
   * One child: an element as it is, anything else as text (shown()), a list
   * child by child. null, undefined and false are a part a page leaves out
   * (`pages > 1 && pager(…)`): they add nothing.
   */
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

  /** Where every page is drawn. */
  const main = () => document.getElementById('main');

  Object.assign(app, { t, el, fill, shown, main });
}
