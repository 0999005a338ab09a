#!/usr/bin/env node
'use strict';
// tfjs-time.js MODEL_DIR BACKEND THREADS SECONDS INPUTS_JSON
//
// Times one model in TensorFlow.js 4.22 under Node on one backend (wasm or cpu), for
// bench/tfjs-compare, which starts one process per (model, backend) so that backends and
// heaps never mix. INPUTS_JSON: [{"name","dtype","shape","file"}] in the model's input order,
// each file an .npy the same `orchard bench --input` reads. Prints one JSON line:
//   {"backend","ms_p50","ms_mean","ms_min","runs","warmup_runs","threads","simd",
//    "multithread","load_ms"}
// A run is execute()/predict() plus reading every output back (what a caller pays), on
// tensors made once. Warm-up: 2 runs (the first compiles kernels / allocates); then runs until
// SECONDS have passed and at least 3 ran (at most 200).

const fs = require('fs');
const path = require('path');
const npy = require('../tests/conformance/npy');

const HERE = __dirname;
const [modelDir, backend, threadsArg, secondsArg, inputsJson] = process.argv.slice(2);
if (!inputsJson || !['wasm', 'cpu'].includes(backend)) {
  process.stderr.write('usage: tfjs-time.js MODEL_DIR wasm|cpu THREADS SECONDS INPUTS_JSON\n');
  process.exit(2);
}

function quietTf() {
  const warn = console.warn;
  console.warn = (...a) => {
    const s = a.join(' ');
    if (/looks like you are running TensorFlow\.js in Node\.js|You can use model\.execute\(\) instead/.test(s)) return;
    warn(...a);
  };
  return require(path.join(HERE, 'node_modules', '@tensorflow', 'tfjs'));
}

async function main() {
  const tf = quietTf();
  const info = { backend, threads: 1, simd: null, multithread: null };
  if (backend === 'wasm') {
    const wasm = require(path.join(HERE, 'node_modules', '@tensorflow', 'tfjs-backend-wasm'));
    wasm.setWasmPaths(path.join(HERE, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep);
    wasm.setThreadsCount(Number(threadsArg));
    await tf.setBackend('wasm');
    await tf.ready();
    info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    info.threads = wasm.getThreadsCount();
  } else {
    await tf.setBackend('cpu');
    await tf.ready();
  }
  if (tf.getBackend() !== backend) throw new Error(`could not select the ${backend} backend`);

  const modelJSON = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const handler = {
    load: async () => tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
      const specs = [], bufs = [];
      for (const g of manifest) {
        specs.push(...g.weights);
        for (const p of g.paths) bufs.push(fs.readFileSync(path.join(modelDir, p)));
      }
      const b = Buffer.concat(bufs);
      return [specs, b.buffer.slice(b.byteOffset, b.byteOffset + b.length)];
    }),
  };
  const graph = modelJSON.format === 'graph-model' || !!(modelJSON.modelTopology && Array.isArray(modelJSON.modelTopology.node));
  let t0 = process.hrtime.bigint();
  const model = graph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  info.load_ms = Number(process.hrtime.bigint() - t0) / 1e6;

  const specs = JSON.parse(fs.readFileSync(inputsJson, 'utf8'));
  const tensors = specs.map((s) => {
    const a = npy.read(s.file);
    return tf.tensor(a.data, a.shape, s.dtype);
  });
  const inNames = graph ? model.inputNodes : model.inputNames;
  let useAsync = false;
  const once = async () => {
    let outs;
    if (graph) {
      const feed = {};
      specs.forEach((s, i) => { feed[s.name] = tensors[i]; });
      if (!useAsync) {
        try { outs = model.execute(feed); } catch (e) {
          if (!/executeAsync/.test(String(e && e.message))) throw e;
          useAsync = true; // control flow or dynamic ops: the path TF.js users must take
        }
      }
      if (useAsync) outs = await model.executeAsync(feed);
    } else {
      outs = model.predict(tensors.length === 1 ? tensors[0] : tensors);
    }
    if (!Array.isArray(outs)) outs = [outs];
    await Promise.all(outs.map((t) => t.data()));
    outs.forEach((t) => t.dispose());
  };
  if (specs.length !== inNames.length) throw new Error(`inputs: ${specs.length} given, model has ${inNames.length}`);

  const seconds = Number(secondsArg);
  info.warmup_runs = 2;
  for (let i = 0; i < info.warmup_runs; i++) await once();
  const times = [];
  const start = process.hrtime.bigint();
  while (times.length < 200) {
    t0 = process.hrtime.bigint();
    await once();
    const t1 = process.hrtime.bigint();
    times.push(Number(t1 - t0) / 1e6);
    if (times.length >= 3 && Number(t1 - start) / 1e9 >= seconds) break;
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  info.ms_p50 = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  info.ms_mean = times.reduce((a, b) => a + b, 0) / times.length;
  info.ms_min = times[0];
  info.runs = times.length;
  info.execute_async = useAsync;
  tensors.forEach((t) => t.dispose());
  model.dispose();
  process.stdout.write(JSON.stringify(info) + '\n');
}

main().catch((e) => { process.stderr.write(`tfjs-time.js: ${e && e.stack ? e.stack : e}\n`); process.exit(1); });
