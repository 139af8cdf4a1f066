// The field pages (/inspections, /tasks): the phone's position for the distance sort, the maps
// and the check-in (callbacks/field.py). Asked of the browser when the page opens, when "locate
// me" is tapped, when a case's sheet opens, and at most once a minute on the page's tick.
(function () {
  var REFRESH_MS = 60000;
  var ns = (window.dash_clientside = window.dash_clientside || {});
  ns.iocField = {
    locate: function (_clicks, _sheetClicks, _open, _tick, previous) {
      var noUpdate = window.dash_clientside.no_update;
      var ctx = window.dash_clientside.callback_context;
      var trigger = ctx && ctx.triggered && ctx.triggered.length ? ctx.triggered[0].prop_id : "";
      var fresh = previous && previous.at && Date.now() - previous.at < REFRESH_MS;
      if (trigger.indexOf("-tick.") > 0 && fresh) {
        return noUpdate;
      }
      if (trigger.indexOf("-open.") > 0 && fresh && previous.lat !== undefined) {
        return noUpdate;
      }
      if (!window.isSecureContext) {
        return { error: "insecure", at: Date.now() };
      }
      if (!navigator.geolocation) {
        return { error: "unsupported", at: Date.now() };
      }
      return new Promise(function (resolve) {
        navigator.geolocation.getCurrentPosition(
          function (pos) {
            resolve({ lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy, at: Date.now() });
          },
          function (err) {
            // a refresh that failed keeps the last position (the list stays sorted by it),
            // unless the user has just refused the position
            if (err.code !== 1 && previous && previous.lat !== undefined) {
              resolve(noUpdate);
            } else {
              resolve({ error: err.code, at: Date.now() });
            }
          },
          // a tap on "locate me" wants a fresh fix; the periodic asks may take one a few seconds old
          { enableHighAccuracy: true, timeout: 15000, maximumAge: trigger.indexOf("locate.") > 0 ? 0 : 15000 }
        );
      });
    },
  };
})();
