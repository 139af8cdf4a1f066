// A Dash form (`form.dash-form`) submits through its callbacks: Enter in a field clicks the
// form's submit button (the callback's input); the browser must not also load a page.
document.addEventListener("submit", function (event) {
  if (event.target && event.target.matches && event.target.matches("form.dash-form")) {
    event.preventDefault();
  }
}, true);
