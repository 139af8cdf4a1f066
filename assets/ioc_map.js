/* Map styling functions of the IOC portal, referenced from Python as {"variable": "iocMap.<name>"}.
   Geometry is sent once; these read live values from the layer's `hideout`. Served locally. */
window.iocMap = {
  colorFor: function (value, breaks, colors) {
    if (value === undefined || value === null) { return "#24364d"; }
    var color = colors[0];
    for (var i = 0; i < breaks.length; i++) { if (value >= breaks[i]) { color = colors[i]; } }
    return color;
  },
  districtStyle: function (feature, context) {
    var h = context.hideout || {};
    var value = (h.values || {})[feature.properties.id];
    var selected = h.selected === feature.properties.id;
    return {
      fillColor: window.iocMap.colorFor(value, h.breaks || [0], h.colors || ["#1d4e89"]),
      fillOpacity: 0.55, color: selected ? "#ffffff" : "#7fd1ff", weight: selected ? 3 : 1.2
    };
  },
  districtHover: function () { return {weight: 3, color: "#ffffff", fillOpacity: 0.7}; },
  districtTooltip: function (feature, layer) {
    var p = feature.properties;
    layer.bindTooltip(p.name_zh + " " + p.name_en, {sticky: true});
  },
  devicePoint: function (feature, latlng, context) {
    var offline = (context.hideout && context.hideout.offline) || [];
    var down = offline.indexOf(feature.properties.id) >= 0;
    return L.circleMarker(latlng, {
      radius: 4, weight: 1, color: down ? "#6b7785" : "#7fd1ff",
      fillColor: down ? "#3b4654" : "#2fa4e7", fillOpacity: down ? 0.5 : 0.9
    }).bindTooltip(feature.properties.name);
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
  alarmPoint: function (feature, latlng) {
    var p = feature.properties;
    return L.circleMarker(latlng, {
      radius: p.severity === "critical" ? 11 : 8, weight: 2, color: "#ffffff",
      fillColor: p.color, fillOpacity: 0.95, className: "alarm-" + p.severity
    }).bindTooltip(p.tooltip);
  }
};
window.iocMap.gridStyle = function (feature, context) {
  var v = ((context.hideout || {}).values || {})[feature.properties.id];
  if (!v) { return {stroke: false, fillOpacity: 0}; }
  var color = v >= 6 ? "#a4161a" : (v >= 3 ? "#e4572e" : "#f2c14e");
  return {stroke: true, color: color, weight: 0.5, fillColor: color, fillOpacity: 0.6};
};
