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

// Plotly under CSS zoom (every page but the wall is zoomed on a 4K screen, assets/ioc.css): Plotly
// maps the pointer into a chart through the CSS transforms above it only, so under zoom 2 the
// hover, click and drag landed at twice the distance. Before a pointer event reaches a chart, its
// layout's inverse transform (recomputed by Plotly whenever the chart moves) is made to divide by
// the chart's zoom as well.
(function () {
  function zoomOf(gd) {
    return typeof gd.currentCSSZoom === "number" && gd.currentCSSZoom > 0 ? gd.currentCSSZoom : 1;
  }
  function zoomAware(calc) {
    var aware = function (gd) {
      calc.call(this, gd);
      var layout = gd._fullLayout, m = layout && layout._invTransform, zoom = zoomOf(gd);
      if (!m || (m.iocZoom || 1) === zoom) return;
      var factor = (m.iocZoom || 1) / zoom;
      for (var row = 0; row < 4; row++) for (var col = 0; col < 3; col++) m[row][col] *= factor;
      m.iocZoom = zoom;
      layout._invScaleX = Math.sqrt(m[0][0] * m[0][0] + m[0][1] * m[0][1] + m[0][2] * m[0][2]);
      layout._invScaleY = Math.sqrt(m[1][0] * m[1][0] + m[1][1] * m[1][1] + m[1][2] * m[1][2]);
    };
    aware.iocZoomAware = true;
    return aware;
  }
  function prepare(event) {
    var gd = event.target && event.target.closest ? event.target.closest(".js-plotly-plot") : null;
    var layout = gd && gd._fullLayout;
    if (layout && typeof layout._calcInverseTransform === "function" && !layout._calcInverseTransform.iocZoomAware) {
      layout._calcInverseTransform = zoomAware(layout._calcInverseTransform);
    }
  }
  ["mousemove", "mousedown", "pointerdown", "touchstart", "wheel", "click"].forEach(function (type) {
    document.addEventListener(type, prepare, { capture: true, passive: true });
  });
})();
