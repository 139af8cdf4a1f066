/* The inspector's report page (巡查上报), served by ioc/web/field.py.
 *
 * Photos (camera or album, previews, remove), the position (geolocation with its accuracy, a
 * Leaflet map to correct it), the class (a short list and a search over every class), a
 * description; submit = POST /api/v1/cases then POST /api/v1/cases/<id>/media per photo.
 *
 * Offline: every report is first written to IndexedDB (with its photos as Blobs) and then sent.
 * A network error, a 5xx, 408, 409 (the case kept changing) or 429 leaves it waiting; it is sent again on the `online` event,
 * every RETRY seconds and when the page opens. Sending is idempotent: the report_id (a UUID made
 * here) makes one case however often it is sent, and the media route dedupes photos by content.
 * A case created with photos still to send keeps its case id and sends only those. A 4xx answer
 * is a refusal: shown with the server's reason, never retried (the inspector may discard it).
 */
(function () {
  'use strict';

  var DATA = JSON.parse(document.getElementById('report-data').textContent);
  var DB_NAME = 'ioc-field';
  var STORE = 'reports';
  var KEEP_SENT = 10; // sent reports kept (without their photos) to say when they went
  var POOR_ACCURACY_M = 50;

  var state = {
    lang: preferredLang(),
    photos: [], // {id, file, url}
    lat: null, lon: null, accuracy: null, corrected: false,
    geo: 'locating', geoReason: '',
    category: '',
    message: null, // {key, vars, kind, caseId}
    lastReportId: '',
    records: [],
    flushing: null, // the promise of the round of sending under way
    again: false,
    storage: true,
  };
  var map = null, marker = null, circle = null, watchId = null;
  var $ = function (id) { return document.getElementById(id); };

  // ---- words ----------------------------------------------------------------------------------

  function preferredLang() {
    var asked = new URLSearchParams(window.location.search).get('lang');
    if (asked === 'zh' || asked === 'en') return asked;
    try { // the portal's preference: Dash's dcc.Store(id="lang", storage_type="local") keeps JSON
      var kept = JSON.parse(window.localStorage.getItem('lang'));
      if (kept === 'zh' || kept === 'en') return kept;
    } catch (e) { /* no storage or not JSON: the server's default */ }
    return DATA.lang;
  }

  function say(key, vars) {
    var table = DATA.texts[state.lang] || DATA.texts.zh;
    var text = table[key] || DATA.texts.zh[key] || key;
    Object.keys(vars || {}).forEach(function (name) { text = text.split('{' + name + '}').join(String(vars[name])); });
    return text;
  }

  function className(entry) { return state.lang === 'en' ? entry.en : entry.zh; }
  function majorName(entry) { return state.lang === 'en' ? entry.major_en : entry.major_zh; }
  function classByCode(code) {
    for (var i = 0; i < DATA.classes.length; i++) if (DATA.classes[i].code === code) return DATA.classes[i];
    return null;
  }

  function clockText(ms) {
    var d = new Date(ms);
    var opts = { hour: '2-digit', minute: '2-digit' };
    if (d.toDateString() !== new Date().toDateString()) { opts.month = '2-digit'; opts.day = '2-digit'; }
    return d.toLocaleString(state.lang === 'en' ? 'en-GB' : 'zh-CN', opts);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function relabel() {
    document.documentElement.lang = state.lang === 'en' ? 'en' : 'zh-CN';
    document.title = say('report_title');
    Array.prototype.forEach.call(document.querySelectorAll('[data-t]'), function (n) { n.textContent = say(n.getAttribute('data-t')); });
    Array.prototype.forEach.call(document.querySelectorAll('[data-t-ph]'), function (n) { n.placeholder = say(n.getAttribute('data-t-ph')); });
    renderAll();
  }

  function switchLang() {
    state.lang = state.lang === 'en' ? 'zh' : 'en';
    try { // the same preference the portal keeps, so the portal follows
      window.localStorage.setItem('lang', JSON.stringify(state.lang));
      window.localStorage.setItem('lang-timestamp', String(Date.now()));
    } catch (e) { /* private mode: this page only */ }
    relabel();
  }

  function renderAll() {
    renderPhotos(); renderPosition(); renderClasses(); renderSearch(); renderMessage(); renderQueue(); renderNet();
  }

  // ---- photos ---------------------------------------------------------------------------------

  var photoSeq = 0;

  function addFiles(files) {
    Array.prototype.forEach.call(files || [], function (file) {
      if (state.photos.length >= DATA.max_photos) return;
      if (file.type && file.type.indexOf('image/') !== 0) return;
      state.photos.push({ id: 'p' + (++photoSeq), file: file, url: URL.createObjectURL(file) });
    });
    renderPhotos();
  }

  function removePhoto(id) {
    state.photos = state.photos.filter(function (p) {
      if (p.id === id) URL.revokeObjectURL(p.url);
      return p.id !== id;
    });
    renderPhotos();
  }

  function renderPhotos() {
    var box = $('report-photos');
    box.textContent = '';
    state.photos.forEach(function (p) {
      var remove = el('button', { type: 'button', className: 'report-photo-remove', text: say('report_remove_photo'), 'data-photo': p.id });
      remove.addEventListener('click', function () { removePhoto(p.id); });
      box.appendChild(el('div', { className: 'report-photo' }, [el('img', { src: p.url, alt: p.file.name || '' }), remove]));
    });
    var note = $('report-photos-note');
    note.textContent = state.photos.length >= DATA.max_photos ? say('report_photos_max', { n: DATA.max_photos })
      : state.photos.length ? say('report_photo_count', { n: state.photos.length }) : say('report_photos_none');
  }

  // ---- position -------------------------------------------------------------------------------

  function locate() {
    state.corrected = false;
    if (!('geolocation' in navigator)) { state.geo = 'failed'; state.geoReason = 'unsupported'; renderPosition(); return; }
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    if (state.lat === null) state.geo = 'locating';
    renderPosition();
    watchId = navigator.geolocation.watchPosition(onPosition, onGeoError, { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  }

  function onPosition(pos) {
    if (state.corrected) return; // the inspector moved the marker: the map wins
    var first = state.lat === null;
    state.lat = pos.coords.latitude; state.lon = pos.coords.longitude; state.accuracy = pos.coords.accuracy;
    state.geo = 'fixed';
    placeMarker(first || !map || map.getZoom() < 15);
    renderPosition();
  }

  function onGeoError(err) {
    if (state.lat !== null && !state.corrected && state.geo === 'fixed') return; // keep the last fix
    if (state.corrected) return;
    state.geo = 'failed';
    state.geoReason = err && err.message ? err.message : 'error ' + (err && err.code);
    renderPosition();
  }

  function setManual(latlng) {
    state.corrected = true;
    state.lat = latlng.lat; state.lon = latlng.lng;
    state.geo = 'corrected';
    if (watchId !== null) { navigator.geolocation.clearWatch(watchId); watchId = null; }
    placeMarker(false);
    renderPosition();
  }

  function renderPosition() {
    var label = $('report-accuracy');
    label.className = 'report-accuracy';
    if (state.geo === 'corrected') {
      label.textContent = say('report_corrected');
    } else if (state.geo === 'fixed') {
      label.textContent = say('report_accuracy', { m: Math.round(state.accuracy) });
      if (state.accuracy > POOR_ACCURACY_M) label.className += ' poor';
    } else if (state.geo === 'failed') {
      label.textContent = say('report_geo_failed', { reason: state.geoReason });
      label.className += ' failed';
    } else {
      label.textContent = say('report_locating');
    }
    label.setAttribute('data-state', state.geo);
    $('report-coords').textContent = state.lat === null ? '' : state.lat.toFixed(5) + ', ' + state.lon.toFixed(5);
  }

  function initMap() {
    if (typeof window.L === 'undefined') return;
    var L = window.L;
    map = L.map('report-map', { attributionControl: Boolean(DATA.tile_url), zoomSnap: 0.5 });
    map.fitBounds(DATA.bounds);
    if (DATA.tile_url) L.tileLayer(DATA.tile_url, { maxZoom: 19 }).addTo(map);
    fetch(DATA.districts_url, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geo) {
        if (geo) L.geoJSON(geo, { interactive: false, style: { color: '#7fd1ff', weight: 1.5, fillColor: '#1f6fb2', fillOpacity: 0.08 } }).addTo(map);
      })
      .catch(function () { /* offline and not cached yet: the marker alone */ });
    map.on('click', function (e) { setManual(e.latlng); });
  }

  function placeMarker(recentre) {
    if (!map || state.lat === null) return;
    var L = window.L;
    var at = [state.lat, state.lon];
    if (!marker) {
      marker = L.marker(at, { draggable: true, autoPan: true, keyboard: false }).addTo(map);
      marker.on('dragend', function () { setManual(marker.getLatLng()); });
    } else {
      marker.setLatLng(at);
    }
    if (circle) { map.removeLayer(circle); circle = null; }
    if (!state.corrected && state.accuracy) {
      circle = L.circle(at, { radius: state.accuracy, color: '#7fd1ff', weight: 1, fillOpacity: 0.12, interactive: false }).addTo(map);
    }
    if (recentre) map.setView(at, Math.max(map.getZoom(), 16));
  }

  // ---- class ----------------------------------------------------------------------------------

  function selectClass(code) {
    state.category = code;
    $('report-search').value = '';
    renderClasses(); renderSearch();
  }

  function renderClasses() {
    var chips = $('report-common');
    chips.textContent = '';
    DATA.common.forEach(function (code) {
      var entry = classByCode(code);
      if (!entry) return;
      var chip = el('button', { type: 'button', className: 'report-chip' + (code === state.category ? ' selected' : ''),
        text: className(entry), 'data-code': code });
      chip.addEventListener('click', function () { selectClass(code); });
      chips.appendChild(chip);
    });
    var chosen = classByCode(state.category);
    var box = $('report-selected');
    box.textContent = '';
    if (chosen) {
      box.appendChild(document.createTextNode(say('report_selected') + ': ' + className(chosen)));
      box.appendChild(el('span', { className: 'code', text: chosen.code }));
    }
    box.setAttribute('data-code', state.category);
  }

  // 2: the code or the class's own name matches, 1: only its major class's name, 0: no match
  function matchRank(entry, query) {
    if (entry.code.indexOf(query) === 0 || entry.zh.indexOf(query) >= 0 || entry.en.toLowerCase().indexOf(query) >= 0) return 2;
    return entry.major_zh.indexOf(query) >= 0 || entry.major_en.toLowerCase().indexOf(query) >= 0 ? 1 : 0;
  }

  function renderSearch() {
    var query = $('report-search').value.trim().toLowerCase();
    var box = $('report-results');
    box.textContent = '';
    if (!query) return;
    var found = [2, 1].reduce(function (out, rank) { // the classes named so first, then those of a major class named so
      return out.concat(DATA.classes.filter(function (entry) { return matchRank(entry, query) === rank; }));
    }, []).slice(0, 40);
    if (!found.length) { box.appendChild(el('div', { className: 'report-empty', text: say('report_no_match') })); return; }
    found.forEach(function (entry) {
      var row = el('button', { type: 'button', className: 'report-result', 'data-code': entry.code },
        [document.createTextNode(className(entry) + ' · ' + entry.code), el('span', { className: 'major', text: majorName(entry) })]);
      row.addEventListener('click', function () { selectClass(entry.code); });
      box.appendChild(row);
    });
  }

  // ---- messages -------------------------------------------------------------------------------

  function showMessage(key, vars, kind, caseId) {
    state.message = key ? { key: key, vars: vars || {}, kind: kind || '', caseId: caseId || '' } : null;
    renderMessage();
    if (key) $('report-message').scrollIntoView({ block: 'nearest' });
  }

  function renderMessage() {
    var box = $('report-message');
    var m = state.message;
    box.textContent = '';
    if (!m) { box.className = 'report-message hidden'; return; }
    box.className = 'report-message ' + m.kind;
    box.setAttribute('data-kind', m.kind);
    box.appendChild(document.createTextNode(say(m.key, m.vars)));
    if (m.caseId) {
      box.appendChild(el('a', { href: '/case/' + encodeURIComponent(m.caseId), id: 'report-case-link', text: say('report_open_case') }));
    }
    if (m.key === 'report_sign_in_again') {
      box.appendChild(el('a', { href: '/login?next=/report', text: say('report_sign_in') }));
    }
    var rec = recordById(state.lastReportId);
    (rec ? rec.photos : []).forEach(function (p) {
      if (p.state === 'refused') box.appendChild(el('div', { className: 'report-photo-error', text: say('report_photo_refused', { name: p.name, reason: p.error }) }));
    });
  }

  // ---- the queue (IndexedDB) ------------------------------------------------------------------

  var dbPromise = null;
  var memory = {}; // when IndexedDB cannot be opened (a private window): this page's life only

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error('no IndexedDB')); return; }
        var req = window.indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: 'report_id' }); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      }).catch(function (e) { state.storage = false; renderQueue(); throw e; });
    }
    return dbPromise;
  }

  function store(mode, work) {
    return db().then(function (handle) {
      return new Promise(function (resolve, reject) {
        var tx = handle.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && 'result' in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function saveRecord(rec) {
    memory[rec.report_id] = rec;
    return store('readwrite', function (s) { return s.put(rec); }).catch(function () { return null; });
  }

  function deleteRecord(id) {
    delete memory[id];
    return store('readwrite', function (s) { return s.delete(id); }).catch(function () { return null; });
  }

  function loadRecords() {
    return store('readonly', function (s) { return s.getAll(); })
      .then(function (rows) { (rows || []).forEach(function (r) { memory[r.report_id] = r; }); })
      .catch(function () { return null; })
      .then(function () {
        state.records = Object.keys(memory).map(function (k) { return memory[k]; })
          .sort(function (a, b) { return a.made_at - b.made_at; });
        return state.records;
      });
  }

  function recordById(id) { return id ? memory[id] || null : null; }

  function waitingPhotos(rec) { return rec.photos.filter(function (p) { return p.state === 'waiting'; }).length; }

  function renderQueue() {
    var records = state.records;
    var waiting = records.filter(function (r) { return r.state === 'waiting'; });
    var refused = records.filter(function (r) { return r.state === 'refused'; });
    var panel = $('report-queue');
    var list = $('report-queue-list');
    list.textContent = '';
    panel.className = 'report-queue' + (waiting.length || refused.length ? '' : ' hidden') + (!waiting.length && refused.length ? ' refused' : '');
    $('report-waiting').textContent = waiting.length ? say('report_waiting', { n: waiting.length })
      : refused.length ? say('report_refused_count', { n: refused.length }) : '';
    $('report-waiting').setAttribute('data-count', String(waiting.length));
    $('report-retry').className = 'report-small' + (waiting.length ? '' : ' hidden');
    if (!state.storage) list.appendChild(el('li', { className: 'refused' }, [el('span', { className: 'what', text: say('report_no_storage') })]));
    waiting.concat(refused).forEach(function (rec) {
      var entry = classByCode(rec.category);
      var what = (entry ? className(entry) : rec.category) + ' · ' + say('report_made_at', { time: clockText(rec.made_at) });
      if (rec.state === 'refused') what += ' · ' + say('report_refused', { reason: rec.error });
      else if (rec.case_id) what += ' · ' + say('report_photos_waiting', { id: rec.case_id, n: waitingPhotos(rec) });
      else if (rec.auth) what += ' · ' + say('report_sign_in_again');
      else if (rec.photos.length) what += ' · ' + say('report_photo_count', { n: rec.photos.length });
      var item = el('li', { className: rec.state, 'data-report': rec.report_id }, [el('span', { className: 'what', text: what })]);
      if (rec.state === 'refused') {
        var discard = el('button', { type: 'button', className: 'report-small', text: say('report_discard') });
        discard.addEventListener('click', function () { deleteRecord(rec.report_id).then(loadRecords).then(renderQueue); });
        item.appendChild(discard);
      }
      list.appendChild(item);
    });
    var sent = records.filter(function (r) { return r.state === 'sent'; }).sort(function (a, b) { return b.sent_at - a.sent_at; });
    var history = $('report-history-list');
    history.textContent = '';
    $('report-history').className = 'report-history' + (sent.length ? '' : ' hidden');
    sent.slice(0, 5).forEach(function (rec) {
      var entry = classByCode(rec.category);
      history.appendChild(el('li', { 'data-report': rec.report_id }, [
        el('span', { className: 'what', text: (entry ? className(entry) : rec.category) + ' · ' + say('report_sent_at', { time: clockText(rec.sent_at) }) }),
        el('a', { href: '/case/' + encodeURIComponent(rec.case_id), text: rec.case_id }),
      ]));
    });
  }

  function renderNet() {
    $('report-net').className = 'report-net' + (navigator.onLine ? ' hidden' : '');
  }

  // ---- sending --------------------------------------------------------------------------------

  function retryable(status) { return status >= 500 || status === 429 || status === 408 || status === 409 || status === 0; }

  function readJson(response) { return response.json().catch(function () { return {}; }); }

  function reason(response, body) { return (body && (body.message || body.error)) || (response.status + ' ' + response.statusText).trim(); }

  // -> 'sent' | 'refused' | 'waiting' (no network / the server could not; tried again later) | 'auth'
  function sendRecord(rec) {
    var created = rec.case_id ? Promise.resolve('created') : fetch('/api/v1/cases', {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ report_id: rec.report_id, category: rec.category, lat: rec.lat, lon: rec.lon, accuracy: rec.accuracy,
        description: rec.description, source: 'inspector' }),
    }).then(function (response) {
      if (response.status === 401) { rec.auth = true; return saveRecord(rec).then(function () { return 'auth'; }); }
      if (retryable(response.status)) return 'waiting';
      return readJson(response).then(function (body) {
        rec.auth = false;
        if (!response.ok) { rec.state = 'refused'; rec.error = reason(response, body); rec.photos.forEach(dropBlob); return saveRecord(rec).then(function () { return 'refused'; }); }
        rec.case_id = body.id;
        return saveRecord(rec).then(function () { return 'created'; });
      });
    }, function () { return 'waiting'; });
    return created.then(function (outcome) { return outcome === 'created' ? sendPhotos(rec, 0) : outcome; });
  }

  function dropBlob(photo) { photo.blob = null; }

  function sendPhotos(rec, i) {
    if (i >= rec.photos.length) {
      rec.state = 'sent'; rec.sent_at = Date.now(); rec.auth = false;
      return saveRecord(rec).then(function () { return 'sent'; });
    }
    var photo = rec.photos[i];
    if (photo.state !== 'waiting') return sendPhotos(rec, i + 1);
    var form = new FormData();
    form.append('file', photo.blob, photo.name);
    form.append('stage', 'before');
    form.append('lat', String(rec.lat));
    form.append('lon', String(rec.lon));
    return fetch('/api/v1/cases/' + encodeURIComponent(rec.case_id) + '/media', { method: 'POST', credentials: 'same-origin', body: form })
      .then(function (response) {
        if (response.status === 401) { rec.auth = true; return saveRecord(rec).then(function () { return 'auth'; }); }
        if (retryable(response.status)) return 'waiting';
        return readJson(response).then(function (body) {
          photo.state = response.ok ? 'sent' : 'refused';
          if (!response.ok) photo.error = reason(response, body);
          dropBlob(photo);
          return saveRecord(rec).then(function () { return sendPhotos(rec, i + 1); });
        });
      }, function () { return 'waiting'; });
  }

  // sends every waiting report in the order they were made; stops at the first that finds no network
  function flush() {
    if (state.flushing) { state.again = true; return state.flushing; }
    state.again = false;
    state.flushing = loadRecords().then(function (records) {
      var waiting = records.filter(function (r) { return r.state === 'waiting'; });
      var step = function (k) {
        if (k >= waiting.length) return null;
        return sendRecord(waiting[k]).then(function (outcome) { return outcome === 'waiting' ? null : step(k + 1); });
      };
      return step(0);
    }).then(prune).then(loadRecords).then(function () {
      state.flushing = null;
      renderQueue();
      describeLast();
      if (state.again) return flush(); // a report made while this round was sending
      return null;
    }, function () {
      state.flushing = null;
      describeLast();
    });
    return state.flushing;
  }

  function prune() {
    var sent = Object.keys(memory).map(function (k) { return memory[k]; }).filter(function (r) { return r.state === 'sent'; })
      .sort(function (a, b) { return b.sent_at - a.sent_at; });
    return Promise.all(sent.slice(KEEP_SENT).map(function (r) { return deleteRecord(r.report_id); }));
  }

  // the message under the form follows the report made last on this page
  function describeLast() {
    var rec = recordById(state.lastReportId);
    if (!rec) return;
    if (rec.state === 'sent') showMessage('report_sent', { id: rec.case_id }, 'ok', rec.case_id);
    else if (rec.state === 'refused') showMessage('report_refused', { reason: rec.error }, 'error');
    else if (rec.auth) showMessage('report_sign_in_again', {}, 'error');
    else if (rec.case_id) showMessage('report_photos_waiting', { id: rec.case_id, n: waitingPhotos(rec) }, 'waiting', rec.case_id);
    else showMessage('report_kept', {}, 'waiting');
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var b = window.crypto.getRandomValues(new Uint8Array(16)); // plain-HTTP pages have no randomUUID
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function round(value, digits) { var f = Math.pow(10, digits); return Math.round(value * f) / f; }

  function submit(event) {
    event.preventDefault();
    if (!state.category) { showMessage('report_need_class', {}, 'error'); return; }
    if (state.lat === null) { showMessage('report_need_position', {}, 'error'); return; }
    var rec = {
      report_id: uuid(), category: state.category, lat: round(state.lat, 6), lon: round(state.lon, 6),
      accuracy: state.corrected || state.accuracy === null ? null : Math.round(state.accuracy),
      description: $('report-description').value.trim(), made_at: Date.now(), state: 'waiting', case_id: '', error: '',
      photos: state.photos.map(function (p) { return { name: p.file.name || 'photo.jpg', type: p.file.type, blob: p.file, state: 'waiting', error: '' }; }),
    };
    var button = $('report-submit');
    button.disabled = true;
    state.lastReportId = rec.report_id;
    showMessage('report_sending', {}, '');
    saveRecord(rec).then(function () {
      clearForm();
      return flush();
    }).then(function () { button.disabled = false; }, function () { button.disabled = false; describeLast(); });
  }

  function clearForm() {
    state.photos.forEach(function (p) { URL.revokeObjectURL(p.url); });
    state.photos = [];
    state.category = '';
    $('report-description').value = '';
    $('report-search').value = '';
    renderPhotos(); renderClasses(); renderSearch();
    if (state.corrected) locate(); // the next report starts from the phone's position again
  }

  // ---- start ----------------------------------------------------------------------------------

  function start() {
    $('report-lang').addEventListener('click', switchLang);
    $('report-camera').addEventListener('change', function (e) { addFiles(e.target.files); e.target.value = ''; });
    $('report-files').addEventListener('change', function (e) { addFiles(e.target.files); e.target.value = ''; });
    $('report-locate').addEventListener('click', locate);
    $('report-search').addEventListener('input', renderSearch);
    $('report-search').addEventListener('keydown', function (e) {
      if (e.key !== 'Enter') return;
      e.preventDefault(); // the phone keyboard's 搜索 key picks the first class found, never sends the report
      var first = document.querySelector('#report-results .report-result');
      if (first) selectClass(first.getAttribute('data-code'));
    });
    $('report-form').addEventListener('submit', submit);
    $('report-retry').addEventListener('click', function () { flush(); });
    window.addEventListener('online', function () { renderNet(); flush(); });
    window.addEventListener('offline', renderNet);
    window.setInterval(function () { if (state.records.some(function (r) { return r.state === 'waiting'; })) flush(); }, DATA.retry_s * 1000);
    initMap();
    relabel();
    locate();
    flush();
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(function () { /* not installable here (plain HTTP) */ });
    }
  }

  start();
}());
