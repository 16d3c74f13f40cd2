// The start, called once the archive's overview has been opened
// (sealed-data.js): the navigation, then the page the address asks for, and
// again whenever the address changes.
'use strict';
{
  const app = window.exporterApp;
  const { navigation, render } = app;

  function start() {
    document.documentElement.lang = window.exporterWords.lang;
    navigation();
    window.addEventListener('hashchange', () => render(true));
    render(false);
  }

  app.start = start;
  // The last of the code: its parts are all in place, and stay as they are.
  Object.freeze(app);
}
