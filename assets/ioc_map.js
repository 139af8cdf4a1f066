/* Map styling functions of the IOC portal, referenced from Python as {"variable": "iocMap.<name>"}.
   Geometry is sent once; these read live values from the layer's `hideout`. Served locally. */
window.iocMap = {
  maps: {},      // map container id -> the Leaflet map (for the board's "show on the map")
  hideouts: {},  // GeoJSON layer id -> its latest hideout (read by tooltips when they open)
  remember: function (context) {
    if (context && context.map) { window.iocMap.maps[context.map.getContainer().id] = context.map; }
    if (context && context.id) { window.iocMap.hideouts[context.id] = context.hideout || {}; }
  },
  escape: function (text) {
    return String(text === undefined || text === null ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  },
  colorFor: function (value, breaks, colors) {
    if (value === undefined || value === null) { return "#24364d"; }
    var color = colors[0];
    for (var i = 0; i < breaks.length; i++) { if (value >= breaks[i]) { color = colors[i]; } }
    return color;
  },
  districtStyle: function (feature, context) {
    window.iocMap.remember(context);  // runs again on every hideout change: the tooltips read the latest
    var h = context.hideout || {};
    var value = (h.values || {})[feature.properties.id];
    var selected = h.selected === feature.properties.id;
    return {
      fillColor: window.iocMap.colorFor(value, h.breaks || [0], h.colors || ["#1d4e89"]),
      fillOpacity: 0.55, color: selected ? "#ffffff" : "#7fd1ff", weight: selected ? 3 : 1.2
    };
  },
  districtHover: function () { return {weight: 3, color: "#ffffff", fillOpacity: 0.7}; },
  // hovering a district: its name and its figure for the colouring chosen (the hideout's `hover` text)
  districtTooltip: function (feature, layer, context) {
    var p = feature.properties, id = context && context.id;
    layer.bindTooltip(function () {
      var h = window.iocMap.hideouts[id] || (context && context.hideout) || {};
      var value = (h.values || {})[p.id];
      if ((value === undefined || value === null) && h.zero) { value = 0; }
      var name = h.lang === "en" ? p.name_en : p.name_zh;
      var figure = (value === undefined || value === null) ? (h.no_value || "—") : (h.hover || "{v}").replace("{v}", value);
      return '<div class="district-tip"><b>' + window.iocMap.escape(name) + '</b><br>' + window.iocMap.escape(figure) + '</div>';
    }, {sticky: true, className: "ioc-tip"});
  },
  // the district names written on the map, always (no hover needed), under alarms and clusters
  districtLabel: function (feature, latlng) {
    return L.marker(latlng, {
      icon: L.divIcon({className: "district-label", html: "<span>" + window.iocMap.escape(feature.properties.name) + "</span>",
                       iconSize: null}),
      interactive: false, keyboard: false, zIndexOffset: -1000
    });
  },
  devicePoint: function (feature, latlng, context) {
    var h = (context && context.hideout) || {};
    var offline = h.offline || [];
    var down = offline.indexOf(feature.properties.id) >= 0;
    var marker = L.circleMarker(latlng, {
      radius: 4, weight: 1, color: down ? "#6b7785" : "#7fd1ff",
      fillColor: down ? "#3b4654" : "#2fa4e7", fillOpacity: down ? 0.5 : 0.9
    });
    marker.bindTooltip(window.iocMap.escape(feature.properties.name), {className: "ioc-tip"});
    marker.on("tooltipopen", function () { window.iocMap.deviceReading(feature.properties, marker, context); });
    return marker;
  },
  // a device's tooltip: its latest reading in words, fetched when the tooltip opens (never per tick)
  deviceReading: function (props, marker, context) {
    var id = context && context.id;
    var h = (id && window.iocMap.hideouts[id]) || (context && context.hideout) || {};
    var lang = h.lang || "zh";
    var url = "/api/v1/map/devices/" + encodeURIComponent(props.id) + "?lang=" + lang;
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (!d) { return; }
      var e = window.iocMap.escape;
      var head = '<b>' + e(d.name) + '</b> <span class="tip-sub">' + e(d.kind) + ' · ' + e(d.state) + (d.time ? ' · ' + e(d.time) : '') + '</span>';
      var body = d.lines.length ? d.lines.map(function (l) { return e(l); }).join("<br>") : e(d.empty);
      marker.setTooltipContent('<div class="device-tip">' + head + '<br>' + body + '</div>');
    }).catch(function () {});
  },
  deviceCluster: function (feature, latlng, index, context) {
    var count = feature.properties.point_count;
    var size = count < 50 ? 28 : (count < 500 ? 36 : 46);
    var icon = L.divIcon({
      html: '<div><span>' + feature.properties.point_count_abbreviated + '</span></div>',
      className: 'ioc-cluster', iconSize: L.point(size, size)
    });
    return L.marker(latlng, {icon: icon});
  },
  // alarms live in a pane of their own above the device clusters (markerPane 600), below tooltips (650)
  alarmPane: function (map) {
    var pane = map.getPane("iocAlarms");
    if (!pane) {
      pane = map.createPane("iocAlarms");
      pane.style.zIndex = 640;
    }
    return "iocAlarms";
  },
  alarmPoint: function (feature, latlng, context) {
    window.iocMap.remember({map: context && context.map});
    var p = feature.properties;
    return L.circleMarker(latlng, {
      radius: p.severity === "critical" ? 11 : 8, weight: 2, color: "#ffffff",
      fillColor: p.color, fillOpacity: 0.95, className: "alarm-" + p.severity,
      pane: context && context.map ? window.iocMap.alarmPane(context.map) : "overlayPane"
    }).bindTooltip(window.iocMap.escape(p.tooltip), {className: "ioc-tip"});
  },
  // the board's "show on the map": centre every map showing that alarm on it and open its tooltip
  locate: function (alarmId) {
    var found = false;
    Object.keys(window.iocMap.maps).forEach(function (key) {
      var map = window.iocMap.maps[key];
      if (!map.getContainer().isConnected) { delete window.iocMap.maps[key]; return; }
      map.eachLayer(function (layer) {
        if (found || !layer.feature || !layer.getLatLng || layer.feature.properties.id !== alarmId) { return; }
        found = true;
        map.setView(layer.getLatLng(), Math.max(map.getZoom(), 14), {animate: false});
        layer.openTooltip();
      });
    });
    return found;
  }
};
// a click on an alarm's text on the board (big screen, district page): the map centres on that alarm
document.addEventListener("click", function (event) {
  var row = event.target && event.target.closest ? event.target.closest("[data-alarm]") : null;
  if (row) { window.iocMap.locate(row.getAttribute("data-alarm")); }
});
window.iocMap.gridStyle = function (feature, context) {
  var v = ((context.hideout || {}).values || {})[feature.properties.id];
  if (!v) { return {stroke: false, fillOpacity: 0}; }
  var color = v >= 6 ? "#a4161a" : (v >= 3 ? "#e4572e" : "#f2c14e");
  return {stroke: true, color: color, weight: 0.5, fillColor: color, fillOpacity: 0.6};
};
// issue 17: the district page's case density: its cells coloured by case count (hideout: values per
// cell, the classes' lower bounds `breaks` and their `colors`); a cell without a case is a faint outline
window.iocMap.densityStyle = function (feature, context) {
  var h = context.hideout || {};
  var v = (h.values || {})[feature.properties.id] || 0;
  if (!v) { return {stroke: true, color: "#5c7a99", weight: 0.4, opacity: 0.5, fill: false}; }
  var breaks = h.breaks || [1], colors = h.colors || ["#d00000"], color = colors[0];
  for (var i = 0; i < breaks.length; i++) { if (v >= breaks[i]) { color = colors[i]; } }
  return {stroke: true, color: color, weight: 0.8, opacity: 1, fill: true, fillColor: color, fillOpacity: 0.85};
};
// issue 15: a linked event's area (dashed outline, light fill) and what it links (cases as squares,
// linked alarms ringed); the invisible city frame only makes the map fit the whole city again
window.iocMap.areaStyle = function (feature) {
  if (feature.properties && feature.properties.frame) { return {stroke: false, fill: false}; }
  return {color: "#ff3b30", weight: 4, dashArray: "10 6", fillColor: "#ff3b30", fillOpacity: 0.16};
};
window.iocMap.linkedPoint = function (feature, latlng, context) {
  var p = feature.properties || {};
  var marker;
  if (p.what === "case") {
    marker = L.marker(latlng, {icon: L.divIcon({className: "ev-case-mark", iconSize: L.point(14, 14)}), keyboard: false});
  } else {
    marker = L.circleMarker(latlng, {radius: 15, weight: 3, color: "#ffd60a", fill: false, interactive: true});
  }
  return marker.bindTooltip(window.iocMap.escape(p.tooltip || p.id), {className: "ioc-tip"});
};
// issue 17: the open cases (在办案件), clustered; each coloured by its state (overdue, urgent, open) from
// the layer's hideout, which also holds the words of its tooltip in the page's language (the points
// carry codes only: ioc/views/case_map.py, whose case_marker_text writes the same lines)
window.iocMap.casePane = function (map) {
  if (!map.getPane("iocCases")) { map.createPane("iocCases").style.zIndex = 620; }  // over device clusters, under alarms
  return "iocCases";
};
window.iocMap.caseLines = function (p, h) {
  var w = h.words || {}, unknown = w.unknown || "";
  var state = p.k === "overdue" ? w.overdue : (p.k === "urgent" ? w.urgent : "");
  var lines = [(w["case"] || "") + " " + p.id + (state ? " · " + state : ""), (h.classes || {})[p.c] || unknown,
               ((h.stages || {})[p.s] || unknown) + " · " + ((h.districts || {})[p.d] || unknown)];
  if (h.open) { lines.push(w.open_hint || ""); }
  return lines;
};
window.iocMap.casePoint = function (feature, latlng, context) {
  var h = (context && context.hideout) || {}, p = feature.properties, e = window.iocMap.escape;
  var lines = window.iocMap.caseLines(p, h);
  var marker = L.circleMarker(latlng, {
    radius: p.k === "open" ? 6 : 8, weight: 2, color: "#0b1a2e", fillColor: (h.colors || {})[p.k] || "#2ec4b6",
    fillOpacity: 0.95, className: "case-mark case-" + p.k,
    pane: context && context.map ? window.iocMap.casePane(context.map) : "overlayPane"
  });
  marker.bindTooltip('<div class="case-tip"><b>' + e(lines[0]) + '</b><br>' + lines.slice(1).map(e).join("<br>") + '</div>',
                     {className: "ioc-tip"});
  if (h.open) {  // a viewer who may read cases: a click opens the case's page inside the portal
    marker.on("click", function () {
      window.history.pushState({}, "", "/case/" + encodeURIComponent(p.id));
      window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    });
  }
  return marker;
};
window.iocMap.caseCluster = function (feature, latlng) {
  var count = feature.properties.point_count;
  var size = count < 50 ? 26 : (count < 500 ? 34 : 42);
  return L.marker(latlng, {icon: L.divIcon({
    html: '<div><span>' + feature.properties.point_count_abbreviated + '</span></div>',
    className: "ioc-case-cluster", iconSize: L.point(size, size)
  })});
};
