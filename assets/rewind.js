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
    }
};
