'use strict';
// dashboard.test.js — the dashboard (GET /, server/dashboard/) in a real browser: Playwright
// (playwright-core from npm, no bundled browser) drives Debian's chromium, headless, against a
// real `orchard serve` on free loopback ports. Run by tests/browser/run (node's test runner).
//
// The server: a temporary model config over models/ (scripts/fetch-models builds it, with the
// garden's orchard.json files): the try-it models (ORCHARD_BROWSER_MODELS, default
// emotion,selfie,blazeface,movenet,meet: classification, one-channel segmentation, detection
// with keypoints, pose, multi-class segmentation) plus a version 2 of emotion whose
// model.json is broken, so the table must show a failed version with its reason while
// version 1 serves. --enable_batching is on so the batch-size chart has data.
//
// What is checked (each `it` below):
// - the page and every asset it loads are served with their Content-Type; unknown files 404;
// - status pills say live and ready; the model table lists every version with its state
//   (READY / UNAVAILABLE + the loader's message), inputs, outputs and the task kind;
// - for each try-it model, astronaut.png (python3-skimage) is uploaded through the file input
//   to the real /v1/models/{name}:annotate and the drawing is checked against the answer the
//   page shows (its JSON): label text listed (top class / detection labels / areas /
//   keypoints), and canvas pixels read back with getImageData, comparing the annotated canvas
//   with the raw image canvas: classification changes pixels only in the label tag at the
//   top left; detection changes the pixels on each box's edges; segmentation changes pixels
//   where the mask (decoded from the answer's PNG in the page) is set and leaves them
//   identical where it is clear; pose changes the pixels under each keypoint it draws;
// - the top k (classification) and score threshold (detection, pose) fields are shown for
//   those kinds only and reach :annotate as ?top_k= / ?threshold=, and the answer obeys them;
// - a JPEG (encoded in the page from the PNG) dropped on the drop zone with no MIME type is
//   sent as image/jpeg (the page sniffs the bytes) and answered for a 512x512 image; a text
//   file or a truncated PNG is refused in the page with a message naming it, nothing sent;
// - after a burst of predict requests the charts report data: chart-rps and chart-latency
//   data-max > 0, chart-batch data-max >= 1, chart-queue has 3 samples or more;
// - every input and select has a label; keyboard focus shows an outline;
// - tokens typed in the token form are sent as Bearer headers (admin token on the model
//   list, predict token on :annotate); against a second daemon started with
//   --auth_token_file, :annotate answers 401 (shown, and the token form opens) until the
//   predict token is pasted, then the answer is drawn;
// - screenshots are saved to the output dir (default tests/browser/out/, not in git) and
//   compared with expectations, structurally, not pixel for pixel (no generated image is
//   committed): the full page at 1280x800 is 1280 px wide, at least 800 high and not blank
//   (many colours, luminance spread); each try-it panel screenshot shows the raw image region
//   non-blank and the annotated region differing from it on at least a kind-specific share of
//   pixels (classification 0.1%, detection 0.2%, pose 0.1%, segmentation 2%); the page at a
//   400 px wide window has no horizontal overflow and is not blank;
// - no uncaught page error and no console error during the run;
// - both daemons exit 0 on SIGTERM with no sanitizer report in their logs (the ASan build runs
//   this test too).
//
// Environment: ORCHARD_BIN (default <repo>/build/orchard), ORCHARD_SOURCE_DIR, CHROMIUM
// (default /usr/bin/chromium), ORCHARD_BROWSER_OUT, ORCHARD_BROWSER_MODELS,
// ORCHARD_TEST_IMAGE, ORCHARD_TEST_TIME_SCALE (multiplies every timeout, e.g. under ASan).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const http = require('http');
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const ROOT = process.env.ORCHARD_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const BIN = process.env.ORCHARD_BIN || path.join(ROOT, 'build', 'orchard');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.ORCHARD_BROWSER_OUT || path.join(__dirname, 'out');
const IMAGE = process.env.ORCHARD_TEST_IMAGE || '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const TRY_MODELS = (process.env.ORCHARD_BROWSER_MODELS || 'emotion,selfie,blazeface,movenet,meet').split(',').map((s) => s.trim()).filter(Boolean);
const SCALE = Math.max(1, Number(process.env.ORCHARD_TEST_TIME_SCALE) || 1);
const T = (ms) => ms * SCALE;
const MIN_DIFF = { classification: 0.001, detection: 0.002, pose: 0.001, segmentation: 0.02 };

// ---- server -----------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function request(port, method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, timeout: T(30000) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function modelDir(name) {
  const d = path.join(ROOT, 'models', name, '1');
  if (!fs.existsSync(path.join(d, 'model.json'))) throw new Error(`models/${name}/1/model.json is missing: run scripts/fetch-models`);
  return d;
}

// A repository of symlinks to models/<name>/1 (models/ stays untouched), emotion with a broken
// version 2 next to its good version 1.
function makeRepo(dir, names) {
  const list = [];
  for (const name of names) {
    const v1 = path.join(dir, name, '1');
    fs.mkdirSync(v1, { recursive: true });
    const src = modelDir(name);
    for (const f of fs.readdirSync(src)) fs.symlinkSync(path.join(src, f), path.join(v1, f));
    list.push({ name, base_path: path.join(dir, name), model_version_policy: { latest: { num_versions: 2 } } });
  }
  fs.mkdirSync(path.join(dir, 'emotion', '2'));
  fs.writeFileSync(path.join(dir, 'emotion', '2', 'model.json'), '{"format": "graph-model", "modelTopology": ');
  const cfg = path.join(dir, 'models.json');
  fs.writeFileSync(cfg, JSON.stringify({ model_config_list: list }, null, 1));
  return { cfg, names };
}

async function startServer(tmp, names, extra = []) {
  const { cfg } = makeRepo(path.join(tmp, `repo-${Date.now()}`), names);
  const rest = await freePort();
  let grpc = await freePort();
  while (grpc === rest) grpc = await freePort();
  const logPath = path.join(OUT, `serve-${rest}.log`);
  const log = fs.openSync(logPath, 'w');
  const args = ['serve', `--port=${grpc}`, `--rest_api_port=${rest}`, `--model_config_file=${cfg}`, '--enable_batching=true',
    '--tensorflow_inter_op_parallelism=1', '--tensorflow_intra_op_parallelism=1', ...extra];
  const proc = spawn(BIN, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  // However the run ends (a failed assertion, a signal), the daemon does not outlive it.
  process.on('exit', () => proc.exitCode === null && proc.kill('SIGKILL'));
  const deadline = Date.now() + T(90000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`orchard serve exited with ${proc.exitCode}:\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
    try {
      // Ready although emotion's version 2 failed: its version 1 serves.
      if ((await request(rest, 'GET', '/v2/health/ready')).status === 200) break;
    } catch (e) {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`orchard serve not ready within ${T(90000) / 1000} s:\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
    }
    await sleep(100);
  }
  return { proc, port: rest, url: `http://127.0.0.1:${rest}`, names, logPath };
}

// SIGTERM, then the exit status (null if it had to be killed). Under ASan a leak or a report
// at exit makes the status non-zero.
async function stopServer(s) {
  if (!s) return null;
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return s.proc.exitCode;
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), T(30000));
  const code = await new Promise((r) => s.proc.once('exit', (c) => r(c)));
  clearTimeout(t);
  return code;
}

function assertCleanExit(s, code) {
  const log = fs.readFileSync(s.logPath, 'utf8');
  assert.ok(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(log), `sanitizer report in ${s.logPath}:\n${log.slice(-3000)}`);
  assert.equal(code, 0, `orchard serve exited with ${code} after SIGTERM:\n${log.slice(-3000)}`);
}

// ---- page helpers -----------------------------------------------------------------------------

// Compares the annotated canvas with the raw image canvas in the page. Answers
// {w, h, diffFraction, bbox: [x0,y0,x1,y1] of the differing pixels | null, at(points)}: for
// each normalized point [u, v], whether the pixel there differs (any channel by more than 10).
function canvasCompare(page, points) {
  return page.evaluate((points) => {
    const a = document.getElementById('try-original');
    const b = document.getElementById('try-canvas');
    const w = a.width;
    const h = a.height;
    if (b.width !== w || b.height !== h) throw new Error('canvases differ in size');
    const pa = a.getContext('2d').getImageData(0, 0, w, h).data;
    const pb = b.getContext('2d').getImageData(0, 0, w, h).data;
    const differs = (x, y) => {
      const i = 4 * (y * w + x);
      return Math.abs(pa[i] - pb[i]) > 10 || Math.abs(pa[i + 1] - pb[i + 1]) > 10 || Math.abs(pa[i + 2] - pb[i + 2]) > 10;
    };
    let n = 0;
    let bbox = null;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if (differs(x, y)) {
          n++;
          if (!bbox) bbox = [x, y, x, y];
          else bbox = [Math.min(bbox[0], x), Math.min(bbox[1], y), Math.max(bbox[2], x), Math.max(bbox[3], y)];
        }
    const at = points.map(([u, v]) => differs(Math.min(w - 1, Math.max(0, Math.round(u * w))), Math.min(h - 1, Math.max(0, Math.round(v * h)))));
    return { w, h, diffFraction: n / (w * h), bbox, at };
  }, points);
}

// Segmentation: sample a grid of points; where the mask (decoded in the page from the answer's
// PNG) is clear in a 5x5 neighbourhood the two canvases must be identical, where it is set in
// all of it they must differ. Answers counts and mismatches.
function maskCheck(page, answer) {
  return page.evaluate(async (answer) => {
    const m = answer.mask;
    const img = new Image();
    img.src = 'data:image/png;base64,' + m.png;
    await img.decode();
    const mw = img.naturalWidth;
    const mh = img.naturalHeight;
    const c = document.createElement('canvas');
    c.width = mw;
    c.height = mh;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const mp = g.getImageData(0, 0, mw, mh).data;
    const labels = m.labels || [];
    const oneChannel = labels.length <= 1;
    const set = (x, y) => {
      const v = mp[4 * (y * mw + x)];
      return oneChannel ? v >= 128 : v < labels.length && !/^background$/i.test(labels[v]);
    };
    const clear = (x, y) => {
      const v = mp[4 * (y * mw + x)];
      return oneChannel ? v === 0 : v >= labels.length || /^background$/i.test(labels[v]);
    };
    const a = document.getElementById('try-original');
    const b = document.getElementById('try-canvas');
    const w = a.width;
    const h = a.height;
    const pa = a.getContext('2d').getImageData(0, 0, w, h).data;
    const pb = b.getContext('2d').getImageData(0, 0, w, h).data;
    const r = { setPoints: 0, clearPoints: 0, bad: [] };
    const N = 32;
    for (let j = 0; j < N; j++)
      for (let i = 0; i < N; i++) {
        const u = (i + 0.5) / N;
        const v = (j + 0.5) / N;
        const mx = Math.floor(u * mw);
        const my = Math.floor(v * mh);
        let allSet = true;
        let allClear = true;
        for (let dy = -2; dy <= 2; dy++)
          for (let dx = -2; dx <= 2; dx++) {
            const x = Math.min(mw - 1, Math.max(0, mx + dx));
            const y = Math.min(mh - 1, Math.max(0, my + dy));
            allSet = allSet && set(x, y);
            allClear = allClear && clear(x, y);
          }
        const px = Math.floor(u * w);
        const py = Math.floor(v * h);
        const k = 4 * (py * w + px);
        const diff = Math.max(Math.abs(pa[k] - pb[k]), Math.abs(pa[k + 1] - pb[k + 1]), Math.abs(pa[k + 2] - pb[k + 2]));
        if (allSet) {
          r.setPoints++;
          if (diff <= 10) r.bad.push(`(${u.toFixed(2)},${v.toFixed(2)}) mask set, pixel unchanged`);
        } else if (allClear) {
          r.clearPoints++;
          if (diff !== 0) r.bad.push(`(${u.toFixed(2)},${v.toFixed(2)}) mask clear, pixel changed by ${diff}`);
        }
      }
    return r;
  }, answer);
}

// Decodes a PNG screenshot in the page and answers {width, height, colours (distinct, on a
// sample), lumaStd, regionDiff: share of pixels differing between two equal-size regions}.
function screenshotStats(page, png, regions) {
  return page.evaluate(async ({ b64, regions }) => {
    const blob = await (await fetch('data:image/png;base64,' + b64)).blob();
    const bmp = await createImageBitmap(blob);
    const c = document.createElement('canvas');
    c.width = bmp.width;
    c.height = bmp.height;
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const d = g.getImageData(0, 0, bmp.width, bmp.height).data;
    const colours = new Set();
    let s = 0;
    let s2 = 0;
    let n = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      s += l;
      s2 += l * l;
      n++;
    }
    const out = { width: bmp.width, height: bmp.height, colours: colours.size, lumaStd: Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2)) };
    if (regions) {
      const [ra, rb] = regions;
      const w = Math.min(ra.width, rb.width);
      const h = Math.min(ra.height, rb.height);
      let diff = 0;
      let la = 0;
      let la2 = 0;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const i = 4 * ((ra.y + y) * bmp.width + ra.x + x);
          const j = 4 * ((rb.y + y) * bmp.width + rb.x + x);
          if (Math.abs(d[i] - d[j]) > 10 || Math.abs(d[i + 1] - d[j + 1]) > 10 || Math.abs(d[i + 2] - d[j + 2]) > 10) diff++;
          const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
          la += l;
          la2 += l * l;
        }
      out.regionDiff = diff / (w * h);
      out.rawLumaStd = Math.sqrt(Math.max(0, la2 / (w * h) - (la / (w * h)) ** 2));
    }
    return out;
  }, { b64: png.toString('base64'), regions });
}

function assertNotBlank(st, what) {
  assert.ok(st.colours > 200, `${what}: only ${st.colours} distinct colours: blank?`);
  assert.ok(st.lumaStd > 15, `${what}: luminance spread ${st.lumaStd.toFixed(1)}: blank?`);
}

// ---- the tests --------------------------------------------------------------------------------

describe('dashboard', () => {
  let tmp;
  let server;
  let browser;
  let page;
  const pageErrors = [];
  const answers = new Map(); // model -> answer JSON shown by the page

  before(async () => {
    for (const f of [BIN, CHROMIUM, IMAGE]) assert.ok(fs.existsSync(f), `${f} is missing (scripts/bootstrap, scripts/build)`);
    fs.mkdirSync(OUT, { recursive: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'orchard-browser-'));
    server = await startServer(tmp, [...new Set(['emotion', ...TRY_MODELS])]);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(T(20000));
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(server.url + '/');
  });

  after(async () => {
    if (browser) await browser.close();
    await stopServer(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the page and its assets with their content types; unknown files are 404', async () => {
    const index = await request(server.port, 'GET', '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    const html = index.body.toString();
    const app = (await request(server.port, 'GET', '/dashboard/app.js')).body.toString();
    const assets = new Set([...html.matchAll(/(?:href|src)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]));
    for (const m of app.matchAll(/from '\.\/([^']+)'/g)) assets.add('/dashboard/' + m[1]);
    assert.ok(assets.size >= 5, `assets found: ${[...assets]}`);
    for (const a of assets) {
      const r = await request(server.port, 'GET', a);
      assert.equal(r.status, 200, a);
      const want = a.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
      assert.equal(r.headers['content-type'], want, a);
      assert.ok(r.body.length > 100, a);
    }
    for (const p of ['/dashboard/nope.js', '/dashboard/', '/dashboard/index', '/dashboard/..%2Fdashboard.c']) {
      const r = await request(server.port, 'GET', p);
      assert.equal(r.status, 404, p);
      assert.match(r.headers['content-type'], /application\/json/, p);
    }
  });

  it('shows server status and every model version with its state', async () => {
    await page.waitForSelector('#status-live[data-state="ok"]');
    await page.waitForSelector('#status-ready[data-state="ok"]');
    for (const name of server.names) {
      const row = page.locator(`[data-testid="model-row-${name}-1"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-state'), 'READY', name);
      assert.equal((await row.locator('[data-testid="model-state"]').textContent()).trim(), 'READY');
    }
    const broken = page.locator('[data-testid="model-row-emotion-2"]');
    await broken.waitFor();
    assert.equal(await broken.getAttribute('data-state'), 'UNAVAILABLE');
    assert.match(await broken.locator('[data-testid="model-reason"]').textContent(), /emotion\/2\/model\.json/);
    // inputs / outputs / task come from the version's metadata, fetched once it is READY
    const emo = page.locator('[data-testid="model-row-emotion-1"]');
    await page.waitForFunction(() => /input_1/.test(document.querySelector('[data-testid="model-row-emotion-1"]').textContent));
    const text = await emo.textContent();
    assert.match(text, /input_1:0 FP32 \[-1,64,64,1\]/);
    assert.match(text, /Identity:0 FP32 \[-1,7\]/);
    assert.match(text, /1 × 1/);
    assert.match(text, /≤32, 0 µs/); // batching on: --enable_batching defaults
    await page.waitForFunction(() => document.querySelector('[data-testid="model-row-emotion-1"] [data-testid="model-task"]').textContent !== '');
    assert.match(await emo.locator('[data-testid="model-task"]').textContent(), /^classification/);
  });

  for (const model of TRY_MODELS) {
    it(`try it: ${model} annotates astronaut.png and the answer is drawn over it`, async () => {
      try {
        await page.waitForFunction((m) => [...document.querySelectorAll('#try-model option')].some((o) => o.value === m), model, { timeout: T(20000) });
      } catch (e) {
        const offered = await page.$$eval('#try-model option', (o) => o.map((x) => x.textContent));
        assert.fail(`${model} is not offered in "try it" (its metadata needs orchard.task and orchard.image_inputs: models/${model}/1/orchard.json); offered: ${JSON.stringify(offered)}`);
      }
      // Choosing a model sends the image already picked; picking the first image sends it.
      await page.selectOption('#try-model', model);
      if (!(await page.inputValue('#try-file'))) await page.setInputFiles('#try-file', IMAGE);
      await page.waitForFunction((m) => {
        const s = document.getElementById('try-status');
        return s.dataset.model === m && (s.dataset.state === 'done' || s.dataset.state === 'error');
      }, model, { timeout: T(60000) });
      const status = await page.textContent('#try-status');
      assert.equal(await page.getAttribute('#try-status', 'data-state'), 'done', status);
      const answer = JSON.parse(await page.textContent('#try-json'));
      answers.set(model, answer);
      assert.equal(answer.image.width, 512);
      assert.equal(answer.image.height, 512);
      const labels = await page.$$eval('#try-labels li .label', (l) => l.map((x) => x.textContent));
      const kind = answer.task;
      if (kind === 'classification') {
        assert.ok(answer.classes.length > 0);
        assert.equal(labels[0], answer.classes[0].label);
        assert.deepEqual(labels, answer.classes.map((c) => c.label));
        const cmp = await canvasCompare(page, []);
        assert.ok(cmp.diffFraction > 0, 'the label tag changed no pixel');
        // only the tag at the top left: 6 px margin, 17 px high
        assert.ok(cmp.bbox[0] <= 8 && cmp.bbox[1] <= 8 && cmp.bbox[3] <= 26, `changed pixels outside the tag: ${cmp.bbox}`);
        assert.equal(await page.getAttribute('#try-canvas', 'data-drawn'), String(answer.classes.length));
      } else if (kind === 'detection') {
        assert.ok(answer.detections.length > 0, 'astronaut.png: nothing detected');
        assert.deepEqual(labels, answer.detections.map((d) => d.label));
        const pts = [];
        for (const d of answer.detections) {
          const b = d.box;
          pts.push([b.x + b.width / 2, b.y + b.height], [b.x, b.y + b.height / 2], [b.x + b.width, b.y + b.height / 2], [b.x + b.width / 2, b.y]);
        }
        // an edge on or past the image border is drawn (half) off the canvas: not checkable
        pts.splice(0, pts.length, ...pts.filter(([u, v]) => u > 0.005 && u < 0.995 && v > 0.005 && v < 0.995));
        assert.ok(pts.length > 0, 'every box edge lies on the image border');
        const cmp = await canvasCompare(page, pts);
        assert.ok(cmp.at.every(Boolean), `box edges not drawn at ${JSON.stringify(pts.filter((p, i) => !cmp.at[i]))}`);
      } else if (kind === 'segmentation') {
        assert.deepEqual(labels, answer.areas.map((a) => a.label));
        const r = await maskCheck(page, answer);
        assert.ok(r.setPoints >= 10 && r.clearPoints >= 10, `too few points to check: ${JSON.stringify(r)}`);
        assert.deepEqual(r.bad, []);
      } else if (kind === 'pose') {
        assert.deepEqual(labels, answer.keypoints.map((k) => k.name));
        const drawn = answer.keypoints.filter((k) => k.score >= 0.2);
        assert.ok(drawn.length > 0, 'no keypoint scored 0.2 or more on astronaut.png');
        const cmp = await canvasCompare(page, drawn.map((k) => [k.x, k.y]));
        assert.ok(cmp.at.every(Boolean), 'a keypoint was not drawn');
      } else {
        assert.fail(`unexpected task ${kind}`);
      }
      assert.equal(await page.getAttribute('#try-canvas', 'data-task'), kind);
      // the screenshot of the panel: raw image region not blank, annotated region differs
      const panel = page.locator('.try-out');
      const png = await panel.screenshot({ path: path.join(OUT, `try-${model}.png`) });
      const box = await panel.boundingBox();
      const ra = await page.locator('#try-original').boundingBox();
      const rb = await page.locator('#try-canvas').boundingBox();
      const region = (r) => ({ x: Math.round(r.x - box.x), y: Math.round(r.y - box.y), width: Math.floor(r.width), height: Math.floor(r.height) });
      const st = await screenshotStats(page, png, [region(ra), region(rb)]);
      assert.ok(st.rawLumaStd > 20, `raw image region looks blank (luminance spread ${st.rawLumaStd})`);
      assert.ok(st.regionDiff >= MIN_DIFF[kind], `${model}: annotated region differs on ${(100 * st.regionDiff).toFixed(2)}% of pixels, want >= ${100 * MIN_DIFF[kind]}%`);
    });
  }

  it('try it: top k and score threshold reach :annotate as query parameters', async () => {
    const run = async (model, input, value) => {
      await page.selectOption('#try-model', model);
      await page.waitForFunction((m) => document.getElementById('try-status').dataset.model === m && document.getElementById('try-status').dataset.state === 'done', model);
      assert.equal(await page.isVisible(input), true, `${input} is not shown for ${model}`);
      // Enter commits the field (a change event), which sends the image again.
      const send = async (v) => {
        const [req] = await Promise.all([
          page.waitForResponse((r) => r.url().includes(`/${model}:annotate`)),
          page.fill(input, v).then(() => page.press(input, 'Enter')),
        ]);
        await page.waitForFunction(() => document.getElementById('try-status').dataset.state === 'done');
        return req;
      };
      const res = await send(value);
      const answer = JSON.parse(await page.textContent('#try-json'));
      const listed = (await page.$$('#try-labels li')).length;
      await send(''); // back to the server's default for the tests after this one
      return { url: new URL(res.url()), answer, listed };
    };
    if (TRY_MODELS.includes('emotion')) {
      const { url, answer, listed } = await run('emotion', '#try-topk', '2');
      assert.equal(url.searchParams.get('top_k'), '2');
      assert.equal(answer.classes.length, 2);
      assert.equal(listed, 2);
      assert.equal(await page.isVisible('#try-threshold'), false);
    }
    if (TRY_MODELS.includes('movenet')) {
      const { url, answer, listed } = await run('movenet', '#try-threshold', '0.6');
      assert.equal(url.searchParams.get('threshold'), '0.6');
      assert.ok(answer.keypoints.every((k) => k.score >= 0.6), JSON.stringify(answer.keypoints));
      assert.equal(listed, answer.keypoints.length);
      assert.equal(await page.isVisible('#try-topk'), false);
    }
  });

  it('try it: a JPEG dropped on the drop zone is sent as image/jpeg and answered', async () => {
    const b64 = fs.readFileSync(IMAGE).toString('base64');
    // The JPEG is made in the page from the test PNG (the browser's encoder, quality 0.9).
    const dt = await page.evaluateHandle(async (b64) => {
      const png = await (await fetch('data:image/png;base64,' + b64)).blob();
      const bmp = await createImageBitmap(png);
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      c.getContext('2d').drawImage(bmp, 0, 0);
      const jpeg = await c.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
      const d = new DataTransfer();
      d.items.add(new File([jpeg], 'dropped.jpg')); // no type: the page sniffs the bytes
      return d;
    }, b64);
    const model = TRY_MODELS[0];
    await page.selectOption('#try-model', model);
    await page.waitForFunction((m) => document.getElementById('try-status').dataset.state === 'done' && document.getElementById('try-status').dataset.model === m, model);
    await page.evaluate(() => (document.getElementById('try-status').dataset.state = 'idle'));
    await page.dispatchEvent('#try-drop', 'dragover', { dataTransfer: dt });
    const [req] = await Promise.all([
      page.waitForRequest((r) => r.url().includes(':annotate')),
      page.dispatchEvent('#try-drop', 'drop', { dataTransfer: dt }),
    ]);
    // the file had no type: the page named it from its bytes
    assert.equal(req.headers()['content-type'], 'image/jpeg');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('try-status').dataset.state));
    const status = await page.textContent('#try-status');
    assert.equal(await page.getAttribute('#try-status', 'data-state'), 'done', status);
    const answer = JSON.parse(await page.textContent('#try-json'));
    assert.equal(answer.model, model);
    assert.deepEqual(answer.image, { width: 512, height: 512 });
  });

  it('try it: a file that is not an image, or a PNG cut short, is refused in the page; nothing is sent', async () => {
    let sent = 0;
    const count = (r) => r.url().includes(':annotate') && sent++;
    page.on('request', count);
    await page.setInputFiles('#try-file', { name: 'notes.txt', mimeType: 'image/png', buffer: Buffer.from('just text, not an image') });
    await page.waitForFunction(() => document.getElementById('try-status').dataset.state === 'error');
    assert.match(await page.textContent('#try-status'), /notes\.txt: not a JPEG or PNG file/);
    assert.equal(sent, 0, 'a non-image was sent to the server');
    // PNG magic and header, body cut: the browser cannot show it either, so the page says so
    // before sending; what the server says about bad images is tests/integration's business.
    const cut = fs.readFileSync(IMAGE).subarray(0, 4000);
    await page.setInputFiles('#try-file', { name: 'cut.png', mimeType: 'image/png', buffer: cut });
    await page.waitForFunction(() => /cut\.png/.test(document.getElementById('try-status').textContent));
    assert.equal(await page.getAttribute('#try-status', 'data-state'), 'error');
    assert.match(await page.textContent('#try-status'), /cut\.png: the browser cannot decode this image/);
    assert.equal(await page.isDisabled('#try-run'), true, 'Annotate stays enabled without a usable image');
    page.off('request', count);
    assert.equal(sent, 0, 'a PNG cut short was sent to the server');
  });

  it('charts follow the traffic: requests/s, latency, batch size and queue depth', async () => {
    const row = JSON.stringify({ instances: [Array.from({ length: 64 }, () => Array.from({ length: 64 }, () => [0.5]))] });
    const deadline = Date.now() + T(20000);
    let data;
    do {
      await Promise.all(Array.from({ length: 4 }, () => request(server.port, 'POST', '/v1/models/emotion:predict', row, { 'Content-Type': 'application/json' })));
      await sleep(250);
      data = await page.$$eval('canvas[data-testid^="chart-"]', (cs) => Object.fromEntries(cs.map((c) => [c.id, { ...c.dataset }])));
    } while (
      Date.now() < deadline &&
      !(Number(data['chart-rps'].max) > 0 && Number(data['chart-latency'].max) > 0 && Number(data['chart-batch'].max) >= 1 && Number(data['chart-queue'].samples) >= 3)
    );
    assert.ok(Number(data['chart-rps'].max) > 0, JSON.stringify(data));
    assert.ok(Number(data['chart-latency'].max) > 0, JSON.stringify(data));
    assert.ok(Number(data['chart-batch'].max) >= 1, JSON.stringify(data));
    assert.ok(Number(data['chart-queue'].samples) >= 3, JSON.stringify(data));
    assert.match(await page.textContent('#legend-rps'), /emotion/);
    // scoped to one model, the headline follows that model
    await page.selectOption('#chart-scope', 'emotion');
    assert.ok(Number(await page.getAttribute('#chart-rps', 'data-max')) > 0);
    await page.selectOption('#chart-scope', '');
  });

  it('screenshots: the whole page at 1280x800 and at a narrow window', async () => {
    // a drawn answer on the page (the test before left an error there)
    const model = TRY_MODELS.includes('selfie') ? 'selfie' : TRY_MODELS[0];
    await page.selectOption('#try-model', model);
    await page.setInputFiles('#try-file', IMAGE);
    await page.waitForFunction((m) => document.getElementById('try-status').dataset.model === m && document.getElementById('try-status').dataset.state === 'done', model);
    const full = await page.screenshot({ path: path.join(OUT, 'dashboard-1280x800.png'), fullPage: true });
    const st = await screenshotStats(page, full);
    assert.equal(st.width, 1280);
    assert.ok(st.height >= 800, `height ${st.height}`);
    assertNotBlank(st, 'dashboard-1280x800.png');
    await page.setViewportSize({ width: 400, height: 900 });
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px at 400 px wide`);
    const narrow = await page.screenshot({ path: path.join(OUT, 'dashboard-400.png'), fullPage: true });
    const sn = await screenshotStats(page, narrow);
    assert.equal(sn.width, 400);
    assertNotBlank(sn, 'dashboard-400.png');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('every control has a label and keyboard focus is visible', async () => {
    const unlabeled = await page.$$eval('input, select, button', (els) => els.filter((e) => e.type !== 'submit' && e.tagName !== 'BUTTON' && !e.labels.length).map((e) => e.id));
    assert.deepEqual(unlabeled, []);
    await page.focus('#try-model');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      return { id: e.id, outline: s.outlineStyle, width: s.outlineWidth };
    });
    assert.notEqual(focused.outline, 'none', JSON.stringify(focused));
    assert.notEqual(focused.width, '0px', JSON.stringify(focused));
  });

  it('tokens from the token form are sent as bearer headers', async () => {
    const p2 = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await p2.goto(server.url + '/');
      await p2.click('#auth-panel summary');
      await p2.fill('#auth-admin', 'admin-secret');
      await p2.fill('#auth-predict', 'predict-secret');
      await p2.click('#auth-save');
      const idx = await p2.waitForRequest((r) => r.url().endsWith('/v2/repository/index'), { timeout: T(10000) });
      assert.equal(idx.headers().authorization, 'Bearer admin-secret');
      assert.equal(await p2.evaluate(() => sessionStorage.getItem('orchard.adminToken')), 'admin-secret');
      await p2.waitForFunction((m) => [...document.querySelectorAll('#try-model option')].some((o) => o.value === m), TRY_MODELS[0]);
      await p2.selectOption('#try-model', TRY_MODELS[0]);
      const [ann] = await Promise.all([
        p2.waitForRequest((r) => r.url().includes(':annotate'), { timeout: T(10000) }),
        p2.setInputFiles('#try-file', IMAGE),
      ]);
      assert.equal(ann.headers().authorization, 'Bearer predict-secret');
      assert.match(ann.headers()['content-type'], /^image\/png/);
    } finally {
      await p2.close();
    }
  });

  it('with --auth_token_file, :annotate is refused until the predict token is pasted', async () => {
    const secret = 'predict-' + process.pid;
    const tokenFile = path.join(tmp, 'predict.token');
    fs.writeFileSync(tokenFile, secret + '\n');
    const guarded = await startServer(tmp, ['emotion'], [`--auth_token_file=${tokenFile}`]);
    const p3 = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await p3.goto(guarded.url + '/');
      await p3.waitForFunction(() => [...document.querySelectorAll('#try-model option')].some((o) => o.value === 'emotion'));
      await p3.selectOption('#try-model', 'emotion');
      await p3.setInputFiles('#try-file', IMAGE);
      await p3.waitForFunction(() => document.getElementById('try-status').dataset.state === 'error');
      assert.match(await p3.textContent('#try-status'), /401/);
      assert.equal(await p3.evaluate(() => document.getElementById('auth-panel').open), true, 'the token form did not open on 401');
      assert.match(await p3.textContent('#auth-message'), /:annotate/);
      await p3.fill('#auth-predict', secret);
      await p3.click('#auth-save');
      await p3.click('#try-run');
      await p3.waitForFunction(() => document.getElementById('try-status').dataset.state === 'done', null, { timeout: T(30000) });
      assert.equal(await p3.getAttribute('#try-canvas', 'data-task'), 'classification');
    } finally {
      await p3.close();
      assertCleanExit(guarded, await stopServer(guarded));
    }
  });

  it('no page error or console error', () => {
    assert.deepEqual(pageErrors, []);
  });

  it('the daemon exits cleanly on SIGTERM (no sanitizer report)', async () => {
    await page.close();
    assertCleanExit(server, await stopServer(server));
  });
});
