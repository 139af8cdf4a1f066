// The desk pages' small browser helpers.

// A Dash form (`form.dash-form`) submits through its callbacks: Enter in a field clicks the
// form's submit button (the callback's input); the browser must not also load a page.
document.addEventListener("submit", function (event) {
  if (event.target && event.target.matches && event.target.matches("form.dash-form")) {
    event.preventDefault();
  }
}, true);

// Functions the grids' options name (dash-ag-grid looks them up here).
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

// The element AG Grid puts its popups (filter menus) in: the page, so a short or empty grid
// never cuts a menu off.
dagfuncs.pageBody = function () {
  return document.body;
};
