// The time control's playback (回溯): the moment moves one step (speed × 1 s of the record) per
// second in the browser, so the server only makes frames; it stops at the end of the record.
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.iocRewind = {
    advance: function (_n, play, at) {
        if (!play || !play.speed) {
            return [window.dash_clientside.no_update, window.dash_clientside.no_update];
        }
        var steps = Math.floor((Date.now() - play.w0) / 1000);
        var next = play.t0 + steps * play.speed * 1000;
        if (play.last && next >= play.last) {
            return [play.last, true];  // the end of the record: stay on its last moment
        }
        if (next === at) {
            return [window.dash_clientside.no_update, window.dash_clientside.no_update];
        }
        return [next, false];
    },
    // the page made again (a language switch, a reload, back from another page) finds its moment
    // and its playback in the tab's session storage: playback goes on
    ticking: function (play) {
        return !(play && play.speed);
    }
};

// One device's rewind (/device/<id>): the page's window and alarm page kept in its address, so a
// language switch (the page is made again from the address) or a reload keeps them. The address is
// replaced, not a new step of the browser's history; the app's dcc.Location is told (popstate).
window.dash_clientside.iocDevice = {
    keep: function (search) {
        if (typeof search !== "string" || search === window.location.search) {
            return window.dash_clientside.no_update;
        }
        window.history.replaceState(window.history.state, "", window.location.pathname + search + window.location.hash);
        window.dispatchEvent(new PopStateEvent("popstate"));
        return search;
    }
};
