// Phones and tablets (issue 16): the top bar's menu, and the grids as lists of cards.
// Plain listeners and AG Grid's API, no inline script: the portal's CSP holds.
(function () {
  "use strict";

  var NARROW = "(max-width: 900px)"; // the same width as assets/mobile.css
  var narrow = window.matchMedia ? window.matchMedia(NARROW) : { matches: false, addEventListener: function () {} };
  var root = document.documentElement;

  // ---- the menu: the button folds the navigation and the switches in and out -------------------

  function setMenu(open) {
    root.classList.toggle("menu-open", open);
    var button = document.getElementById("menu-toggle");
    if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    if (target.closest("#menu-toggle")) {
      setMenu(!root.classList.contains("menu-open"));
    } else if (target.closest("#nav a")) {
      setMenu(false); // a page was picked
    }
    // a card's link opens its page inside the portal, as a dcc.Link does (no reload)
    var link = target.closest("a.ioc-card-link");
    if (link && event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey &&
        link.origin === window.location.origin) {
      event.preventDefault();
      window.history.pushState({}, "", link.pathname + link.search + link.hash);
      window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
      window.scrollTo(0, 0);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && root.classList.contains("menu-open")) setMenu(false);
  });
  if (narrow.addEventListener) {
    narrow.addEventListener("change", function () { if (!narrow.matches) setMenu(false); });
  }

  // ---- the grids as cards --------------------------------------------------------------------
  // Every portal grid (layouts/grids.py marks it `ioc-grid`) shows, on a narrow screen, one
  // auto-height column whose cell is a card of the row: the first column as its title, every
  // other shown column as "label  value" (its formatter, its markdown link, its cell classes).
  // The row data stays the same; the grid's own columns come back on a wide screen.

  var CARD = "ioc-card";
  var held = {}; // grid id -> {defs, domLayout, headerHeight} while it shows cards

  function leaves(defs, out) {
    (defs || []).forEach(function (d) {
      if (d.children) leaves(d.children, out); else out.push(d);
    });
    return out;
  }

  function colId(def) { return def.colId || def.field; }

  function hidden(defs) {
    return (defs || []).map(function (d) {
      var copy = Object.assign({}, d, { pinned: null });
      if (d.children) copy.children = hidden(d.children); else copy.hide = true;
      return copy;
    });
  }

  function restored(defs) {
    return (defs || []).map(function (d) {
      var copy = Object.assign({}, d, { pinned: d.pinned || null });
      if (d.children) copy.children = restored(d.children); else copy.hide = !!d.hide;
      return copy;
    });
  }

  function showCards(id, api) {
    if (held[id] || api.isDestroyed()) return;
    var defs = api.getColumnDefs() || [];
    if (leaves(defs, []).some(function (d) { return colId(d) === CARD; })) return;
    held[id] = { defs: defs, headerHeight: api.getGridOption("headerHeight") };
    var shown = leaves(defs, []).filter(function (d) { return !d.hide && colId(d); });
    var card = { colId: CARD, headerName: "", flex: 1, autoHeight: true, wrapText: true, sortable: false, filter: false,
                 resizable: false, suppressMovable: true, cellClass: "ioc-card-cell", cellRenderer: "IocCard",
                 cellRendererParams: { columns: shown.map(colId) } };
    api.setGridOption("columnDefs", [card].concat(hidden(defs)));
    api.setGridOption("headerHeight", 0);
    var box = document.getElementById(id);
    if (box) {
      box.classList.add("ioc-cards");
      // a grid of a fixed height scrolls its cards in a box most of the screen tall; one of its rows' height grows
      if (api.getGridOption("domLayout") !== "autoHeight") box.classList.add("ioc-cards-fixed");
    }
    api.resetRowHeights();
  }

  function showColumns(id, api) {
    var before = held[id];
    if (!before) return;
    delete held[id];
    var box = document.getElementById(id);
    if (box) box.classList.remove("ioc-cards", "ioc-cards-fixed");
    if (api.isDestroyed()) return;
    api.setGridOption("headerHeight", before.headerHeight);
    api.setGridOption("columnDefs", restored(before.defs));
    api.resetRowHeights();
  }

  function apiOf(id) {
    var dag = window.dash_ag_grid;
    try {
      return dag && dag.getApi ? dag.getApi(id) : null;
    } catch (e) {
      return null; // not ready yet: the next look finds it
    }
  }

  var retries = 0;
  function follow() {
    var seen = {}, waiting = false;
    document.querySelectorAll(".ioc-grid[id]").forEach(function (box) {
      var id = box.id, api = apiOf(id);
      seen[id] = true;
      if (!api) { waiting = true; return; }
      if (api.isDestroyed()) return;
      if (!api.__iocCards) { // a callback that sends new columns: shown as cards again on a phone
        api.__iocCards = true;
        api.addEventListener("newColumnsLoaded", function () {
          var defs = api.getColumnDefs() || [];
          var isCard = leaves(defs, []).some(function (d) { return colId(d) === CARD; });
          if (!isCard && held[id]) { delete held[id]; box.classList.remove("ioc-cards", "ioc-cards-fixed"); }
          if (narrow.matches && !isCard) window.setTimeout(function () { showCards(id, api); }, 0);
        });
      }
      if (narrow.matches) showCards(id, api); else showColumns(id, api);
    });
    Object.keys(held).forEach(function (id) { if (!seen[id]) delete held[id]; });
    if (narrow.matches) fitCharts();
    // a grid drawn before its API is there: look again a little later
    if (waiting && retries < 50) { retries += 1; window.setTimeout(follow, 100); } else if (!waiting) { retries = 0; }
  }

  // ---- charts: a chart of a fixed height drawn wider than a phone is drawn again at its width ----

  function fitCharts() {
    var Plotly = window.Plotly;
    if (!Plotly) return;
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      var box = gd.parentElement, layout = gd._fullLayout;
      if (!box || !layout || !box.clientWidth) return;
      if (layout.width > box.clientWidth + 1) Plotly.relayout(gd, { width: box.clientWidth });
    });
  }

  var pending = null;
  function soon() {
    if (pending) return;
    pending = window.setTimeout(function () { pending = null; follow(); }, 50);
  }
  if (narrow.addEventListener) narrow.addEventListener("change", soon);
  new MutationObserver(function (mutations) {
    if (!narrow.matches && !Object.keys(held).length) return; // a wide screen: nothing to switch (the wall's ticks stay cheap)
    for (var i = 0; i < mutations.length; i++) {
      var added = mutations[i].addedNodes;
      for (var j = 0; j < added.length; j++) {
        var node = added[j];
        if (node.nodeType === 1 && (node.classList.contains("ag-root-wrapper") || node.classList.contains("svg-container") ||
                                    node.querySelector(".ag-root-wrapper, .svg-container"))) {
          soon();
          return;
        }
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });

  // ---- the card ------------------------------------------------------------------------------

  var MARKDOWN_LINK = /^\[([^\]]*)\]\(([^)\s]+)\)$/;

  function classes(def, params, value) {
    var out = [];
    var rules = def.cellClassRules || {};
    Object.keys(rules).forEach(function (name) {
      var rule = rules[name];
      try {
        if (typeof rule === "function" && rule({ data: params.data, value: value, node: params.node, api: params.api, colDef: def })) {
          out.push(name);
        }
      } catch (e) { /* a rule that needs more than the row: not shown on the card */ }
    });
    if (typeof def.cellClass === "string") out.push(def.cellClass);
    return out.join(" ");
  }

  function content(React, def, raw, shown) {
    var text = shown == null ? "" : String(shown);
    var link = def.cellRenderer === "markdown" ? MARKDOWN_LINK.exec(text) : null;
    if (link) return React.createElement("a", { href: link[2], className: "ioc-card-link" }, link[1]);
    return text === "" ? "—" : text;
  }

  var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  dagcomponentfuncs.IocCard = function (params) {
    var React = window.React;
    var api = params.api, node = params.node;
    var ids = (params.colDef && params.colDef.cellRendererParams && params.colDef.cellRendererParams.columns) || [];
    var parts = ids.map(function (id) {
      var column = api.getColumn(id);
      if (!column) return null;
      var def = column.getColDef();
      var raw = api.getCellValue({ rowNode: node, colKey: id });
      var shown = api.getCellValue({ rowNode: node, colKey: id, useFormatter: true });
      return { id: id, def: def, label: def.headerName || "", raw: raw, value: content(React, def, raw, shown),
               cls: classes(def, params, raw) };
    }).filter(Boolean);
    if (!parts.length) return null;
    var head = parts[0];
    var lines = parts.slice(1).map(function (p) {
      return React.createElement("div", { key: p.id, className: "ioc-card-line" },
        React.createElement("span", { className: "ioc-card-label" }, p.label),
        React.createElement("span", { className: "ioc-card-value " + p.cls }, p.value));
    });
    return React.createElement("div", { className: "ioc-card" },
      React.createElement("div", { className: "ioc-card-title " + head.cls }, head.value),
      lines);
  };
})();
