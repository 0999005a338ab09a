// app.js — the dashboard's main: polls the server and renders. Three independent loops, each
// re-armed only when its previous round finished (a slow server never gets piled-up polls):
//   health  every 2 s: GET /v2/health/live and /ready -> the status pills;
//   models  every 2 s: POST /v2/repository/index -> the table; per READY version, once (and
//           again after a reload or 30 s) GET /v2/models/{name}/versions/{v} for inputs,
//           outputs and the "orchard" key (workers, batching, task, image_inputs);
//   metrics every 1 s: GET /metrics -> rates over the interval between two scrapes -> charts.
// The "try it" panel posts a picked or dropped image to :annotate and draws the answer.

import { call, json, getTokens, setTokens, onUnauthorized } from './api.js';
import { parse, quantile, increase } from './prom.js';
import { Chart, PALETTE } from './chart.js';
import { drawAnswer } from './draw.js';

const $ = (id) => document.getElementById(id);
const INFER_APIS = new Set(['predict', 'annotate', 'v2_infer']);
const WINDOW_S = 120;
const METRICS_MS = 1000;
const MODELS_MS = 2000;
const HEALTH_MS = 2000;
const DETAILS_MAX_AGE_MS = 30000;
const MAX_IMAGE_CSS = 640; // the try-it canvases show the image at most this wide

const state = {
  index: [], // [{name, version, state, reason}]
  details: new Map(), // "name/version" -> {at, state, meta} | {at, state, error}
  prevScrape: null, // {t, c: collect() of that scrape}
  history: new Map(), // "metric|model" ('*' = all models) -> [[tMs, v|null]]
  file: null,
  busy: false,
  again: false,
};

// ---- small DOM helpers ------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function setPill(id, label, ok, title) {
  const p = $(id);
  p.dataset.state = ok === null ? 'unknown' : ok ? 'ok' : 'fail';
  p.textContent = `${label}: ${ok === null ? '…' : ok ? 'yes' : 'no'}`;
  p.title = title || '';
}

function loop(fn, ms) {
  const run = async () => {
    try {
      await fn();
    } catch (e) {
      console.error(e);
    }
    setTimeout(run, ms);
  };
  run();
}

// ---- tokens -----------------------------------------------------------------------------------

function initAuth() {
  const t = getTokens();
  $('auth-admin').value = t.admin;
  $('auth-predict').value = t.predict;
  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setTokens($('auth-admin').value.trim(), $('auth-predict').value.trim());
    $('auth-message').textContent = 'Saved for this tab.';
    state.details.clear();
  });
  $('auth-clear').addEventListener('click', () => {
    $('auth-admin').value = '';
    $('auth-predict').value = '';
    setTokens('', '');
    $('auth-message').textContent = 'Cleared.';
  });
  onUnauthorized((path, msg) => {
    const panel = $('auth-panel');
    if (!panel.open) panel.open = true;
    $('auth-message').textContent = `${path}: ${msg}`;
  });
}

// ---- health -----------------------------------------------------------------------------------

async function probe(path) {
  try {
    await call(path, { scope: 'open', timeoutMs: 5000 });
    return [true, ''];
  } catch (e) {
    return [false, e.message];
  }
}

async function pollHealth() {
  const [[live, lm], [ready, rm]] = await Promise.all([probe('/v2/health/live'), probe('/v2/health/ready')]);
  setPill('status-live', 'live', live, lm);
  setPill('status-ready', 'ready', ready, rm);
}

async function serverInfo() {
  try {
    const s = await json('/v2');
    $('server-info').textContent = `${s.name || 'orchard'} ${s.version || ''}`.trim();
  } catch (e) {
    /* needs the admin token when auth is on: the pills still work */
  }
}

// ---- models -----------------------------------------------------------------------------------

function key(name, version) {
  return `${name}/${version}`;
}

async function fetchDetails(name, version) {
  const base = `/v2/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  const meta = await json(base);
  // The task and image inputs are on the TF Serving metadata answer too; read it there when
  // the KServe one does not carry them.
  if (meta.orchard && meta.orchard.task === undefined) {
    try {
      const v1 = await json(`/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/metadata`);
      if (v1.orchard) meta.orchard = { ...v1.orchard, ...meta.orchard, task: v1.orchard.task, image_inputs: v1.orchard.image_inputs };
    } catch (e) {
      /* keep what /v2 said */
    }
  }
  return meta;
}

async function pollModels() {
  let index;
  try {
    index = await json('/v2/repository/index', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    $('models-error').hidden = true;
  } catch (e) {
    $('models-error').textContent = `Cannot list the models: ${e.message}`;
    $('models-error').hidden = false;
    return;
  }
  state.index = Array.isArray(index) ? index : [];
  const now = Date.now();
  const jobs = [];
  for (const m of state.index) {
    const k = key(m.name, m.version);
    const d = state.details.get(k);
    if (m.state !== 'READY') {
      if (d) state.details.delete(k);
      continue;
    }
    if (!d || d.state !== m.state || now - d.at > DETAILS_MAX_AGE_MS) {
      jobs.push(
        fetchDetails(m.name, m.version).then(
          (meta) => state.details.set(k, { at: Date.now(), state: m.state, meta }),
          (e) => state.details.set(k, { at: Date.now(), state: m.state, error: e.message }),
        ),
      );
    }
  }
  await Promise.all(jobs);
  renderModels();
  renderScopes();
  renderTryModels();
}

function ioList(items, imageInputs) {
  const frag = document.createDocumentFragment();
  for (const io of items || []) {
    const shape = Array.isArray(io.shape) ? `[${io.shape.join(',')}]` : '';
    const img = imageInputs && (imageInputs.includes(io.name) || imageInputs.includes(String(io.name).replace(/:0$/, '')));
    frag.append(el('span', { class: 'io', text: `${io.name} ${io.datatype || ''} ${shape}${img ? ' (image)' : ''}` }));
  }
  return frag;
}

function batchingText(o) {
  if (!o) return '';
  const b = o.batching;
  if (!b) return 'off';
  return `≤${b.max_batch_size}, ${b.batch_timeout_micros} µs`;
}

function taskText(o) {
  const t = o && o.task;
  if (!t || !t.kind) return '';
  const n = Array.isArray(t.labels) ? t.labels.length : 0;
  return n ? `${t.kind} (${n} label${n === 1 ? '' : 's'})` : t.kind;
}

function renderModels() {
  const body = $('models-body');
  const rows = [];
  const sorted = state.index.slice().sort((a, b) => (a.name === b.name ? Number(b.version) - Number(a.version) : a.name < b.name ? -1 : 1));
  for (const m of sorted) {
    const d = state.details.get(key(m.name, m.version));
    const meta = d && d.meta;
    const o = meta && meta.orchard;
    const imageInputs = (o && o.image_inputs) || [];
    const stateCell = el('td', {}, el('span', { class: 'badge', dataset: { state: m.state }, 'data-testid': 'model-state', text: m.state }));
    if (m.reason) stateCell.append(el('span', { class: 'reason', 'data-testid': 'model-reason', text: m.reason }));
    if (d && d.error) stateCell.append(el('span', { class: 'reason', text: `details: ${d.error}` }));
    const wt = o && o.workers ? `${o.workers} × ${o.intra_op_threads}${o.auto_tuned ? ' (tuned)' : ''}` : '';
    rows.push(
      el(
        'tr',
        { 'data-testid': `model-row-${m.name}-${m.version}`, dataset: { model: m.name, version: m.version, state: m.state } },
        el('th', { scope: 'row', text: m.name }),
        el('td', { text: m.version }),
        stateCell,
        el('td', {}, ioList(meta && meta.inputs, imageInputs)),
        el('td', {}, ioList(meta && meta.outputs)),
        el('td', { text: wt }),
        el('td', { text: batchingText(o), title: o && o.batching ? `max_batch_size ${o.batching.max_batch_size}, batch_timeout_micros ${o.batching.batch_timeout_micros}, max_enqueued_batches ${o.batching.max_enqueued_batches}` : (o && o.batching_off_reason) || '' }),
        el('td', { 'data-testid': 'model-task', text: taskText(o) }),
      ),
    );
  }
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: '8', class: 'muted', text: 'No models configured.' })));
  body.replaceChildren(...rows);
}

function modelNames() {
  return [...new Set(state.index.map((m) => m.name))].sort();
}

function renderScopes() {
  const sel = $('chart-scope');
  const want = ['', ...modelNames()];
  const have = [...sel.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  const cur = sel.value;
  sel.replaceChildren(...want.map((n) => el('option', { value: n, text: n || 'all models' })));
  sel.value = want.includes(cur) ? cur : '';
}

// ---- metrics and charts -----------------------------------------------------------------------

// One scrape's numbers per model: counters and histogram buckets (cumulative, as exposed) and
// gauges, for the rates computed against the previous scrape.
function collect(samples) {
  const c = { requests: new Map(), latency: new Map(), bsum: new Map(), bcount: new Map(), queue: new Map() };
  const add = (m, k, v) => m.set(k, (m.get(k) || 0) + v);
  for (const s of samples) {
    const model = s.labels.model;
    if (!model) continue;
    switch (s.name) {
      case 'orchard_requests_total':
        if (INFER_APIS.has(s.labels.api)) add(c.requests, `${model}|${s.labels.api}|${s.labels.version}|${s.labels.code}`, s.value);
        break;
      case 'orchard_request_duration_seconds_bucket':
        if (INFER_APIS.has(s.labels.api)) add(c.latency, `${model}|${s.labels.api}|${s.labels.le}`, s.value);
        break;
      case 'orchard_batch_size_sum':
        add(c.bsum, `${model}|${s.labels.version}`, s.value);
        break;
      case 'orchard_batch_size_count':
        add(c.bcount, `${model}|${s.labels.version}`, s.value);
        break;
      case 'orchard_queue_depth':
        add(c.queue, model, s.value);
        break;
      default:
    }
  }
  return c;
}

// Increases of every series of `cur` over `prev`, summed into model -> value (and '*').
function increases(prev, cur, splitLe) {
  const out = new Map();
  for (const [k, v] of cur) {
    const inc = increase(prev.get(k), v);
    const parts = k.split('|');
    const keys = splitLe ? [`${parts[0]}|${parts[parts.length - 1]}`, `*|${parts[parts.length - 1]}`] : [parts[0], '*'];
    for (const kk of keys) out.set(kk, (out.get(kk) || 0) + inc);
  }
  return out;
}

function push(metric, model, t, v) {
  const k = `${metric}|${model}`;
  let h = state.history.get(k);
  if (!h) state.history.set(k, (h = []));
  h.push([t, v]);
  const t0 = t - WINDOW_S * 1000;
  while (h.length && h[0][0] < t0) h.shift();
}

function series(metric, model) {
  return state.history.get(`${metric}|${model}`) || [];
}

let charts = null;

function renderCharts() {
  const scope = $('chart-scope').value;
  const names = modelNames();
  const color = (n) => PALETTE[names.indexOf(n) % PALETTE.length] || PALETTE[0];
  const perModel = (metric) => {
    if (scope) return [{ label: scope, color: color(scope), points: series(metric, scope) }];
    const lines = names.filter((n) => series(metric, n).some((p) => p[1])).map((n) => ({ label: n, color: color(n), points: series(metric, n) }));
    // Nothing moved yet: one flat line for all models says "0" better than an empty chart.
    return lines.length ? lines : [{ label: 'all models', color: PALETTE[7], points: series(metric, '*') }];
  };
  const who = scope || '*';
  charts.rps.set(perModel('rps'), series('rps', who));
  charts.latency.set(
    [
      { label: `p50${scope ? '' : ' (all)'}`, color: PALETTE[0], points: series('p50', who) },
      { label: `p99${scope ? '' : ' (all)'}`, color: PALETTE[1], points: series('p99', who) },
    ],
    series('p99', who),
  );
  const batching = [...state.details.values()].some((d) => d.meta && d.meta.orchard && d.meta.orchard.batching);
  charts.batch.set(perModel('batch'), series('batch', who), batching ? 'no batches run yet' : 'batching is off (--enable_batching)');
  charts.queue.set(perModel('queue'), series('queue', who), 'no queue yet');
}

async function pollMetrics() {
  let text;
  try {
    const r = await call('/metrics', { scope: 'open', timeoutMs: 5000 });
    text = await r.text();
  } catch (e) {
    // The server restarting is news for the page, not a bug in it: say it where the time is.
    $('metrics-info').textContent = `metrics: ${e.message}`;
    state.prevScrape = null; // a rate across the gap would be wrong
    return;
  }
  const t = Date.now();
  const cur = collect(parse(text));
  const prev = state.prevScrape;
  state.prevScrape = { t, c: cur };
  $('metrics-info').textContent = `updated ${new Date(t).toLocaleTimeString()}`;
  if (!prev) return;
  const dt = (t - prev.t) / 1000;
  if (!(dt > 0)) return;
  const req = increases(prev.c.requests, cur.requests, false);
  const lat = increases(prev.c.latency, cur.latency, true); // "model|le" -> increase
  const bs = increases(prev.c.bsum, cur.bsum, false);
  const bc = increases(prev.c.bcount, cur.bcount, false);
  const queue = new Map(cur.queue);
  queue.set('*', [...cur.queue.values()].reduce((a, b) => a + b, 0));
  for (const m of ['*', ...modelNames()]) {
    push('rps', m, t, (req.get(m) || 0) / dt);
    const buckets = [];
    for (const [k, v] of lat) {
      const i = k.lastIndexOf('|');
      if (k.slice(0, i) === m) buckets.push([k.slice(i + 1) === '+Inf' ? Infinity : Number(k.slice(i + 1)), v]);
    }
    const p50 = quantile(0.5, buckets);
    const p99 = quantile(0.99, buckets);
    push('p50', m, t, p50 === null ? null : p50 * 1000);
    push('p99', m, t, p99 === null ? null : p99 * 1000);
    const n = bc.get(m) || 0;
    push('batch', m, t, n > 0 ? (bs.get(m) || 0) / n : null);
    push('queue', m, t, queue.has(m) ? queue.get(m) : null);
  }
  renderCharts();
}

// ---- try it -----------------------------------------------------------------------------------

function tryModels() {
  const out = new Map();
  for (const [k, d] of state.details) {
    const o = d.meta && d.meta.orchard;
    if (!o || !o.task || !o.task.kind || !Array.isArray(o.image_inputs) || !o.image_inputs.length) continue;
    const name = k.slice(0, k.lastIndexOf('/'));
    out.set(name, o.task.kind);
  }
  return [...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

function renderTryModels() {
  const sel = $('try-model');
  const models = tryModels();
  const want = models.map(([n, kind]) => `${n}\t${kind}`);
  const have = [...sel.options].map((o) => o.dataset.sig || '');
  if (want.join('\n') === have.join('\n') && sel.options.length) return;
  const cur = sel.value;
  if (!models.length) {
    sel.replaceChildren(el('option', { value: '', text: 'no model has an image input and a task', dataset: { sig: '' } }));
    sel.disabled = true;
  } else {
    sel.replaceChildren(...models.map(([n, kind]) => el('option', { value: n, text: `${n} — ${kind}`, dataset: { sig: `${n}\t${kind}`, kind } })));
    sel.disabled = false;
    if (models.some(([n]) => n === cur)) sel.value = cur;
  }
  updateOptions();
  updateRunButton();
}

// The query parameters of :annotate that apply to the chosen model's task kind.
function updateOptions() {
  const opt = $('try-model').selectedOptions[0];
  const kind = opt ? opt.dataset.kind : '';
  $('try-topk-wrap').hidden = kind !== 'classification';
  $('try-threshold-wrap').hidden = kind !== 'detection' && kind !== 'pose';
}

function annotateQuery() {
  const q = new URLSearchParams();
  const k = $('try-topk');
  const t = $('try-threshold');
  if (!$('try-topk-wrap').hidden && k.value !== '') q.set('top_k', k.value);
  if (!$('try-threshold-wrap').hidden && t.value !== '') q.set('threshold', t.value);
  const s = q.toString();
  return s ? '?' + s : '';
}

function updateRunButton() {
  $('try-run').disabled = state.busy || !state.file || !$('try-model').value;
}

function setTryStatus(s, text) {
  const p = $('try-status');
  p.dataset.state = s;
  p.className = s === 'error' ? 'error' : '';
  p.textContent = text;
}

// The type the server needs in Content-Type, from the file's magic bytes (a file's MIME type
// from the OS may be missing or wrong).
async function sniff(file) {
  const b = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.every((v, i) => b[i] === v)) return 'image/png';
  return null;
}

async function showImage(file) {
  let bmp;
  try {
    bmp = await createImageBitmap(file);
  } catch (e) {
    throw new Error(`${file.name}: the browser cannot decode this image`);
  }
  const scale = Math.min(1, MAX_IMAGE_CSS / bmp.width);
  const w = Math.max(1, Math.round(bmp.width * scale));
  const h = Math.max(1, Math.round(bmp.height * scale));
  for (const id of ['try-original', 'try-canvas']) {
    const c = $(id);
    c.width = w;
    c.height = h;
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0, w, h);
  }
  $('try-canvas').dataset.task = '';
  $('try-canvas').dataset.drawn = '';
  return bmp;
}

let bitmap = null;

async function pickFile(file) {
  if (!file) return;
  state.file = null;
  updateRunButton();
  const type = await sniff(file);
  if (!type) {
    setTryStatus('error', `${file.name}: not a JPEG or PNG file`);
    return;
  }
  try {
    bitmap = await showImage(file);
  } catch (e) {
    setTryStatus('error', e.message);
    return;
  }
  state.file = { blob: file, type, name: file.name };
  updateRunButton();
  if ($('try-model').value) await annotate();
  else setTryStatus('idle', `${file.name} loaded; no model to send it to`);
}

async function annotate() {
  const model = $('try-model').value;
  const f = state.file;
  if (!model || !f) return;
  if (state.busy) {
    state.again = true; // the model or file changed while a request ran: send again after it
    return;
  }
  state.busy = true;
  updateRunButton();
  $('try-status').dataset.model = model;
  setTryStatus('running', `Sending ${f.name} to ${model}…`);
  $('try-json').textContent = '';
  $('try-labels').replaceChildren();
  const t0 = performance.now();
  try {
    const r = await call(`/v1/models/${encodeURIComponent(model)}:annotate${annotateQuery()}`, {
      method: 'POST',
      body: f.blob,
      headers: { 'Content-Type': f.type },
      scope: 'predict',
      timeoutMs: 60000,
    });
    const answer = await r.json();
    const ms = performance.now() - t0;
    $('try-json').textContent = JSON.stringify(answer, null, 2);
    // Redraw the image first: the overlay of the previous answer must not stay.
    const c = $('try-canvas');
    c.getContext('2d').drawImage(bitmap, 0, 0, c.width, c.height);
    const drawn = await drawAnswer(c, $('try-labels'), answer);
    c.dataset.task = answer.task || '';
    c.dataset.drawn = String(drawn);
    c.dataset.model = model;
    setTryStatus('done', `${model}: ${answer.task}, ${drawn} drawn, ${ms.toFixed(0)} ms`);
  } catch (e) {
    setTryStatus('error', `${model}: ${e.message}`);
  } finally {
    state.busy = false;
    updateRunButton();
  }
  if (state.again) {
    state.again = false;
    await annotate();
  }
}

function initTry() {
  const drop = $('try-drop');
  $('try-file').addEventListener('change', (ev) => pickFile(ev.target.files[0]));
  $('try-model').addEventListener('change', () => {
    updateOptions();
    updateRunButton();
    if (state.file) annotate();
  });
  for (const id of ['try-topk', 'try-threshold'])
    $(id).addEventListener('change', () => {
      if (state.file) annotate();
    });
  $('try-run').addEventListener('click', annotate);
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const f = ev.dataTransfer && ev.dataTransfer.files[0];
    if (f) pickFile(f);
  });
  // The drop zone is focusable: Enter or Space opens the file picker for keyboard users.
  drop.addEventListener('keydown', (ev) => {
    if (ev.target === drop && (ev.key === 'Enter' || ev.key === ' ')) {
      ev.preventDefault();
      $('try-file').click();
    }
  });
  setTryStatus('idle', 'Pick or drop an image.');
  renderTryModels();
}

// ---- start ------------------------------------------------------------------------------------

function main() {
  charts = {
    rps: new Chart($('chart-rps'), $('legend-rps'), { windowS: WINDOW_S }),
    latency: new Chart($('chart-latency'), $('legend-latency'), { windowS: WINDOW_S, empty: 'no requests yet' }),
    batch: new Chart($('chart-batch'), $('legend-batch'), { windowS: WINDOW_S }),
    queue: new Chart($('chart-queue'), $('legend-queue'), { windowS: WINDOW_S }),
  };
  $('chart-scope').addEventListener('change', renderCharts);
  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.draw()));
  initAuth();
  initTry();
  renderCharts();
  serverInfo();
  loop(pollHealth, HEALTH_MS);
  loop(pollModels, MODELS_MS);
  loop(pollMetrics, METRICS_MS);
}

main();
