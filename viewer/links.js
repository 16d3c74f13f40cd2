// Links: which addresses may become one, each checked here, and the one
// function that makes them (dom.js: the safety rules).
'use strict';
{
  const app = window.exporterApp;
  const { el } = app;

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

  Object.assign(app, { archiveHref, httpsHref, mailtoHref, link });
}
