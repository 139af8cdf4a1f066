// The field pages (/inspections, /tasks): the phone's position for the distance sort, the maps
// and the check-in (callbacks/field.py). Asked of the browser when the page opens, when "locate
// me" is tapped, when a case's sheet opens, and at most once a minute on the page's tick.
//
// The callback returns at once and the position arrives later through `set_props`: the list never
// waits for it (a permission prompt left unanswered would otherwise hold the page empty).
(function () {
  var REFRESH_MS = 60000;
  var GIVE_UP_MS = 20000; // no answer at all (an unanswered prompt): say so, keep the last position
  var ns = (window.dash_clientside = window.dash_clientside || {});

  function put(storeId, value) {
    window.dash_clientside.set_props(storeId, { data: value });
  }

  ns.iocField = {
    locate: function (_clicks, _sheetClicks, _open, _tick, previous, storeId) {
      var noUpdate = window.dash_clientside.no_update;
      var ctx = window.dash_clientside.callback_context;
      var trigger = ctx && ctx.triggered && ctx.triggered.length ? ctx.triggered[0].prop_id : "";
      var known = previous && previous.lat !== undefined;
      var fresh = previous && previous.at && Date.now() - previous.at < REFRESH_MS;
      if ((trigger.indexOf("-tick.") > 0 && fresh) || (trigger.indexOf("-open.") > 0 && fresh && known)) {
        return noUpdate;
      }
      if (!window.isSecureContext) {
        return { error: "insecure", at: Date.now() };
      }
      if (!navigator.geolocation) {
        return { error: "unsupported", at: Date.now() };
      }
      var answered = false;
      var timer = setTimeout(function () {
        if (!answered && !known) {
          put(storeId, { error: 3, at: Date.now() });
        }
      }, GIVE_UP_MS);
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          answered = true;
          clearTimeout(timer);
          put(storeId, { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy, at: Date.now() });
        },
        function (err) {
          answered = true;
          clearTimeout(timer);
          // a refresh that failed keeps the last position (the list stays sorted by it),
          // unless the user has just refused the position
          if (err.code === 1 || !known) {
            put(storeId, { error: err.code, at: Date.now() });
          }
        },
        // a tap on "locate me" wants a fresh fix; the periodic asks may take one a few seconds old
        { enableHighAccuracy: true, timeout: 15000, maximumAge: trigger.indexOf("locate.") > 0 ? 0 : 15000 }
      );
      return noUpdate;
    },
  };
})();
