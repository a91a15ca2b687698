// agrifleet dashboard: light polling, API calls with the session's CSRF token, offline scouting.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("texts").textContent);
  const lang = document.documentElement.lang;
  const main = document.getElementById("main");

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)agrifleet_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function errorText(status) { return T["error_" + status] || T.error_other; }
  function say(where, text, bad) {
    const box = where || document.getElementById("notice");
    box.textContent = text;
    box.classList.toggle("error", !!bad);
  }

  async function api(url, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ "X-CSRF-Token": csrf(), "Accept": "application/json" },
      opts.headers || {});
    let response;
    try { response = await fetch(url, opts); } catch (e) { return { ok: false, status: 0 }; }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }
  // A start refused because nodes are in another rollout names them and that rollout.
  function rolloutRefusal(result) {
    const detail = result.data && typeof result.data.detail === "string" ? result.data.detail : "";
    const busy = "device(s) already in an unfinished rollout: ";
    if (result.status !== 409 || !detail.startsWith(busy)) return errorText(result.status);
    const devices = detail.slice(busy.length).replace(/ \(rollout (\d+)\)/g, " (#$1)");
    return T.busy_devices.replace("%(devices)s", devices);
  }
  function postJson(url, body) {
    return api(url, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
  }

  // -- refresh without reload -----------------------------------------------------------
  async function refresh() {
    let response;
    try { response = await fetch(location.href, { credentials: "same-origin" }); }
    catch (e) { return; }
    if (!response.ok || response.redirected) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("main");
    if (!fresh) return;
    const notice = document.getElementById("notice").textContent;
    main.innerHTML = fresh.innerHTML;
    document.getElementById("notice").textContent = notice;
    loadPrecision();
  }
  const every = parseInt(main.dataset.poll || "0", 10);
  if (every > 0) {
    setInterval(function () {
      const busy = document.activeElement && document.activeElement.closest("form, details");
      if (document.visibilityState === "visible" && !busy) refresh();
    }, every * 1000);
  }

  // -- buttons and forms that call the API ----------------------------------------------
  document.addEventListener("click", async function (event) {
    const reject = event.target.closest("[data-reject]");
    if (reject) {
      const form = reject.closest("li, article").querySelector(".reject-form");
      form.hidden = !form.hidden;
      const select = form.querySelector("select");
      const every = document.getElementById("all-labels");
      if (every && !select.dataset.filled) { select.append(every.content.cloneNode(true)); select.dataset.filled = "1"; }
      if (!form.hidden) select.focus();
      return;
    }
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const out = button.closest("li, article, section").querySelector(".result");
    button.disabled = true;
    say(out, T.sending);
    const result = await postJson(button.dataset.api, JSON.parse(button.dataset.body || "{}"));
    button.disabled = false;
    // A rollout's or an alert's new state is drawn by the server: fetch the page again.
    if (result.ok) { say(out, T.done); if (button.closest("article, .alert-list")) refresh(); }
    else say(out, errorText(result.status), true);
  });

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (form.dataset.apiForm) {
      event.preventDefault();
      const body = {};
      new FormData(form).forEach(function (v, k) { if (v !== "") body[k] = v; });
      const out = form.closest("li, article").querySelector(".result");
      const result = await postJson(form.dataset.apiForm, body);
      if (result.ok) { say(out, T.done); form.hidden = true; }
      else say(out, errorText(result.status), true);
    } else if (form.dataset.rolloutForm) {
      event.preventDefault();
      const f = new FormData(form);
      const parts = String(f.get("package")).split("|");
      const tag = String(f.get("tag") || "").trim();
      const phases = String(f.get("phases") || "100").split(/[ ,;]+/).filter(Boolean).map(Number);
      const result = await postJson(form.dataset.rolloutForm, { model: parts[0], version: parts[1],
        targets: tag ? { tag: tag } : { all: true }, phases: phases });
      if (result.ok) refresh(); else say(null, rolloutRefusal(result), true);
    } else if (form.dataset.policyForm) {
      event.preventDefault();
      const body = {};
      for (const input of form.querySelectorAll("input[type=number]")) {
        body[input.name] = input.value === "" ? null : Number(input.value);
      }
      body.training_consent = form.querySelector("input[name=training_consent]").checked;
      const out = form.querySelector(".result");
      const result = await api(form.dataset.policyForm, { method: "PATCH",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (result.ok) { refresh(); say(out, T.done); } else say(out, errorText(result.status), true);
    } else if (form.dataset.scout) {
      event.preventDefault();
      scout(form);
    }
  });

  // -- field precision per model version: confirmed / (confirmed + rejected) --------------
  async function loadPrecision() {
    for (const cell of document.querySelectorAll("[data-precision]")) {
      const result = await api(cell.dataset.precision);
      if (!result.ok || !result.data || result.data.precision == null) continue;
      const d = result.data;
      cell.textContent = new Intl.NumberFormat(lang, { style: "percent" }).format(d.precision)
        + " (" + d.confirmed + "/" + (d.confirmed + d.rejected) + ")";
    }
  }
  loadPrecision();

  // -- scouting: send now, or keep the photo on the phone and send it when back online --
  const DB = "agrifleet-scouting", STORE = "outbox";
  function openDb() {
    return new Promise(function (resolve, reject) {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "client_id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  async function store(mode, fn) {
    const db = await openDb();
    return new Promise(function (resolve, reject) {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = function () { resolve(req && req.result); db.close(); };
      tx.onerror = function () { reject(tx.error); db.close(); };
    });
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function position() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(function (p) { resolve(p.coords); },
        function () { resolve(null); }, { timeout: 2000, maximumAge: 600000 });
    });
  }
  async function send(record) {
    const body = new FormData();
    body.append("photo", record.photo, record.name || "leaf.jpg");
    body.append("client_id", record.client_id);
    body.append("taken_at", record.taken_at);
    if (record.field_id) body.append("field_id", record.field_id);
    if (record.latitude != null) { body.append("latitude", record.latitude); body.append("longitude", record.longitude); }
    return api("/api/v1/observations", { method: "POST", body: body });
  }
  async function showAnswer(data) {
    const box = document.getElementById("answer");
    if (!box || !data) return;
    box.hidden = false;
    const verdict = box.querySelector(".answer-verdict");
    if (verdict && data.id) {  // a person confirms the diagnosis, or names the right class
      const url = "/api/v1/observations/" + data.id + "/verdict";
      verdict.querySelector("button[data-api]").dataset.api = url;
      verdict.querySelector("form").dataset.apiForm = url;
      verdict.querySelector("form").hidden = true;
      verdict.querySelector(".result").textContent = "";
      verdict.hidden = false;
    }
    const label = data.label || "";
    // Only the crop unsure: the disease is still said (with its advice), "crop uncertain" beside it.
    const cropOnly = data.uncertain && data.advice_key;
    box.querySelector(".answer-label").textContent = cropOnly ? T.crop_uncertain : data.uncertain ? T.uncertain : label;
    box.querySelector(".answer-confidence").textContent = data.confidence != null
      ? T.confidence + ": " + new Intl.NumberFormat(lang, { style: "percent" }).format(data.confidence) : "";
    const advice = box.querySelector(".answer-advice");
    advice.textContent = "";
    const key = data.advice_key === undefined ? label : data.advice_key;
    if (!key) return;
    const result = await api("/api/v1/advice?label=" + encodeURIComponent(key) + "&lang=" + lang);
    if (!result.ok || !result.data) return;
    const a = result.data;
    if (cropOnly) box.querySelector(".answer-label").textContent = [a.disease, T.crop_uncertain].filter(Boolean).join(" · ");
    else if (a.crop || a.disease) box.querySelector(".answer-label").textContent = [a.crop, a.disease].filter(Boolean).join(" · ");
    for (const key of ["what_it_is", "what_to_do"]) {
      if (a[key]) { const p = document.createElement("p"); p.textContent = a[key]; advice.append(p); }
    }
  }
  async function pending() {
    const line = document.getElementById("pending");
    if (!line || !window.indexedDB) return;
    const n = await store("readonly", function (s) { return s.count(); });
    line.textContent = n ? T.pending.replace("%(count)s", n) : "";
  }
  async function scout(form) {
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    const coords = await position();
    const record = { client_id: uuid(), photo: file, name: file.name,
      taken_at: new Date().toISOString(),
      field_id: form.querySelector("select") ? form.querySelector("select").value : "",
      latitude: coords ? coords.latitude : null, longitude: coords ? coords.longitude : null };
    say(null, T.sending);
    const result = navigator.onLine ? await send(record) : { ok: false, status: 0 };
    if (result.ok) { say(null, T.sent); form.reset(); showAnswer(result.data); return; }
    if (result.status === 0 || result.status >= 500) {
      await store("readwrite", function (s) { return s.put(record); });
      say(null, T.queued); form.reset(); pending();
      return;
    }
    say(null, errorText(result.status), true);
  }
  let flushing = false;
  async function flush() {
    if (flushing || !window.indexedDB || !navigator.onLine) return;
    flushing = true;
    try {
      const records = await store("readonly", function (s) { return s.getAll(); });
      for (const record of records || []) {
        const result = await send(record);
        if (result.status === 0 || result.status >= 500) break;  // still away: try later
        await store("readwrite", function (s) { return s.delete(record.client_id); });
        if (result.ok) { say(null, T.sent); showAnswer(result.data); }
        else say(null, errorText(result.status), true);
      }
    } finally { flushing = false; pending(); }
  }
  window.addEventListener("online", flush);
  if (document.querySelector("[data-scout]")) { pending(); flush(); setInterval(flush, 30000); }
})();
