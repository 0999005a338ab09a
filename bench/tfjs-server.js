#!/usr/bin/env node
'use strict';
// bench/tfjs-server.js --port P [--backend cpu|wasm] --model NAME=DIR [--model NAME=DIR ...]
//
// The TensorFlow.js side of bench/rest: a plain Node HTTP server answering the same TF Serving
// predict Orchard answers, on the same model files, so the two can be load-tested alike.
//   POST /v1/models/NAME[/versions/1]:predict   {"instances": [...]} or {"inputs": ...}
//        -> {"predictions": ...} / {"outputs": ...}   (single-input models)
//   GET  /v1/models/NAME                          TF Serving model status
// DIR holds model.json (graph or layers model) and its shards, e.g. models/movenet/1.
// Prints "tfjs-server: listening on PORT (backend B)" once every model is loaded and warmed
// up (one inference each), so the caller knows when to start measuring.
//
// TF.js comes from tests/conformance/node_modules (the conformance suite's pinned 4.22) for the
// cpu backend. The wasm backend comes from the first node_modules holding
// @tensorflow/tfjs-backend-wasm among tests/conformance, $ORCHARD_CACHE/npm and <repo>/.cache/npm
// (where scripts/fetch-models installs it), and TF.js is then loaded from that same place:
// a backend registers with the copy of tfjs-core it was installed next to.

const fs = require('fs');
const http = require('http');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

function die(msg) { process.stderr.write(`tfjs-server: ${msg}\n`); process.exit(2); }

function parseArgs(argv) {
  const o = { port: 0, backend: 'cpu', models: [] };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i], v = null;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    const take = () => { if (v !== null) return v; if (i + 1 >= argv.length) die(`${a} needs a value`); return argv[++i]; };
    if (a === '--port') o.port = Number(take());
    else if (a === '--backend') o.backend = take();
    else if (a === '--model') {
      const s = take(), k = s.indexOf('=');
      if (k <= 0) die(`--model ${s}: use NAME=DIR`);
      o.models.push({ name: s.slice(0, k), dir: path.resolve(s.slice(k + 1)) });
    } else die(`unknown argument ${argv[i]}`);
  }
  if (!(o.port > 0 && o.port < 65536)) die('--port must be a port number');
  if (!['cpu', 'wasm'].includes(o.backend)) die(`--backend ${o.backend}: cpu or wasm`);
  if (!o.models.length) die('at least one --model NAME=DIR');
  return o;
}

function nodeModulesWith(pkg) {
  const roots = [path.join(ROOT, 'tests', 'conformance', 'node_modules')];
  if (process.env.ORCHARD_CACHE) roots.push(path.join(process.env.ORCHARD_CACHE, 'npm', 'node_modules'));
  roots.push(path.join(ROOT, '.cache', 'npm', 'node_modules'));
  return roots.find((r) => fs.existsSync(path.join(r, pkg, 'package.json'))) || null;
}

async function loadTf(backend) {
  const warn = console.warn;
  console.warn = (...a) => {
    if (/looks like you are running TensorFlow\.js in Node\.js|executeAsync/.test(a.join(' '))) return;
    warn(...a);
  };
  const nm = nodeModulesWith(backend === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs');
  if (!nm) die(backend === 'wasm' ? '@tensorflow/tfjs-backend-wasm is not installed (scripts/fetch-models installs it)'
    : '@tensorflow/tfjs is not installed in tests/conformance (npm ci there)');
  const tf = require(path.join(nm, '@tensorflow', 'tfjs'));
  if (backend === 'wasm') require(path.join(nm, '@tensorflow', 'tfjs-backend-wasm'));
  if (!(await tf.setBackend(backend))) die(`backend ${backend} did not initialize`);
  await tf.ready();
  return tf;
}

function ioHandler(tf, dir) {
  const modelJSON = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  return {
    modelJSON,
    handler: {
      load: async () => tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [], bufs = [];
        for (const g of manifest) {
          specs.push(...g.weights);
          for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
        }
        const b = Buffer.concat(bufs);
        return [specs, b.buffer.slice(b.byteOffset, b.byteOffset + b.length)];
      }),
    },
  };
}

async function loadModel(tf, m) {
  const { modelJSON, handler } = ioHandler(tf, m.dir);
  const graph = modelJSON.format === 'graph-model' || !!(modelJSON.modelTopology && Array.isArray(modelJSON.modelTopology.node));
  const model = graph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const input = model.inputs[0];
  const dtype = input.dtype || 'float32';
  const shape = (input.shape || []).map((d) => (d == null || d < 0 ? 1 : d));
  const run = (x) => (graph ? model.execute(x) : model.predict(x));
  // Warm-up: the first inference compiles kernels (wasm) and sizes buffers.
  tf.tidy(() => {
    const out = run(tf.zeros(shape, dtype));
    (Array.isArray(out) ? out : [out]).forEach((t) => t.dataSync());
  });
  return { name: m.name, dtype, run };
}

function predict(tf, model, req) {
  const columnar = req.inputs !== undefined;
  let value = columnar ? req.inputs : req.instances;
  if (value === undefined) throw new Error('"instances" or "inputs" is required');
  if (value && !Array.isArray(value) && typeof value === 'object') value = Object.values(value)[0];
  if (!columnar) value = value.map((v) => (v && !Array.isArray(v) && typeof v === 'object' ? Object.values(v)[0] : v));
  return tf.tidy(() => {
    const out = model.run(tf.tensor(value, undefined, model.dtype));
    const vals = (Array.isArray(out) ? out : [out]).map((t) => t.arraySync());
    if (columnar) return { outputs: vals.length === 1 ? vals[0] : vals };
    return { predictions: vals[0] };
  });
}

function send(res, code, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const tf = await loadTf(o.backend);
  const models = new Map();
  for (const m of o.models) models.set(m.name, await loadModel(tf, m));
  const server = http.createServer((req, res) => {
    const m = /^\/v1\/models\/([^/:]+)(?:\/versions\/\d+)?(:predict)?$/.exec(req.url);
    const model = m && models.get(m[1]);
    if (!model) return send(res, 404, { error: `no route or model for ${req.method} ${req.url}` });
    if (!m[2]) {
      return send(res, 200, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        send(res, 200, predict(tf, model, JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch (e) {
        send(res, 400, { error: String(e && e.message ? e.message : e) });
      }
    });
  });
  server.keepAliveTimeout = 120000;
  server.listen(o.port, '127.0.0.1', () => {
    process.stdout.write(`tfjs-server: listening on ${o.port} (backend ${tf.getBackend()})\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
