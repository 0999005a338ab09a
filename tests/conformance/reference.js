#!/usr/bin/env node
'use strict';
// reference.js OUTDIR [model names...]
//
// Builds the TensorFlow.js reference for each conformance case of models.json (all when no
// names are given): deterministic inputs from a seeded PRNG, TF.js 4.22 on the plain CPU
// backend, and writes
//   OUTDIR/<model>/inputs/<i>.npy   one per input, in TF.js's input order
//   OUTDIR/<model>/ref/<k>.npy      one per output, in TF.js's output order
//   OUTDIR/<model>/case.json        {"model","dir","kind","inputs":[{name,file,dtype,shape}],
//                                    "outputs":[...], "tfjs_ms", "tfjs_load_ms"}
//                                   or {"model","dir","error": "..."} when TF.js fails.
// Inputs and outputs are named exactly as TF.js names them: graph models by
// model.inputNodes / model.outputNodes, layers models by model.inputNames / outputNames.
// The .npy files and case.json (apart from the two *_ms timings) are byte-identical run to run.
//
// Options: --models PATH (default: models.json beside this file), --root DIR (where the
// case's "dir" is resolved; default: the repository root), --keep-going is the default:
// a TF.js failure is recorded in case.json and reported, exit status 3 if any case failed.

const fs = require('fs');
const path = require('path');
const npy = require('./npy');

const HERE = __dirname;

function usage(code) {
  process.stderr.write('usage: reference.js [--models models.json] [--root REPO] OUTDIR [model ...]\n');
  process.exit(code);
}

function parseArgs(argv) {
  const o = { models: path.join(HERE, 'models.json'), root: path.resolve(HERE, '..', '..'), names: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--models' || a === '--root') {
      if (i + 1 >= argv.length) usage(2);
      o[a.slice(2)] = argv[++i];
    } else if (a.startsWith('--models=')) o.models = a.slice(9);
    else if (a.startsWith('--root=')) o.root = a.slice(7);
    else if (a === '-h' || a === '--help') usage(0);
    else if (a.startsWith('-')) { process.stderr.write(`reference.js: unknown option ${a}\n`); usage(2); }
    else if (!o.out) o.out = a;
    else o.names.push(a);
  }
  if (!o.out) usage(2);
  return o;
}

// ---- deterministic inputs ---------------------------------------------------------------

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) { h ^= b; h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// One input tensor's values. spec: {name, dtype, shape, range:[lo,hi]} or {..., fill: v}.
// float32: lo + (hi-lo) * u, u = k / 2^24 (exact in float32, in [0,1)); int32: integers in
// [lo, hi] inclusive; bool: 0/1. Seeded by "<model>/<input name>" so order does not matter.
function makeInput(model, spec) {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const T = spec.dtype === 'float32' ? Float32Array : spec.dtype === 'int32' ? Int32Array : Uint8Array;
  const data = new T(n);
  if (spec.fill !== undefined) { data.fill(spec.fill); return data; }
  const rnd = mulberry32(fnv1a(`${model}/${spec.name}`));
  const [lo, hi] = spec.range || (spec.dtype === 'int32' ? [0, 255] : [0, 1]);
  if (spec.dtype === 'float32') {
    for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * ((rnd() >>> 8) / 16777216);
  } else if (spec.dtype === 'int32') {
    const span = hi - lo + 1;
    for (let i = 0; i < n; i++) data[i] = lo + Math.floor((rnd() / 4294967296) * span);
  } else if (spec.dtype === 'bool') {
    for (let i = 0; i < n; i++) data[i] = rnd() >>> 31;
  } else throw new Error(`input ${spec.name}: unsupported dtype ${spec.dtype}`);
  return data;
}

// ---- TF.js ---------------------------------------------------------------------------------

let tf;
function loadTf() {
  // Keep TF.js's "install tfjs-node" banner and executeAsync hints out of the output.
  const warn = console.warn;
  console.warn = (...a) => {
    const s = a.join(' ');
    if (/looks like you are running TensorFlow\.js in Node\.js|You can use model\.execute\(\) instead/.test(s)) return;
    warn(...a);
  };
  tf = require('@tensorflow/tfjs');
}

function ioHandler(dir) {
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

function isGraphModel(j) {
  return j.format === 'graph-model' || !!(j.modelTopology && Array.isArray(j.modelTopology.node));
}

function ms(t0) { return Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100; }

async function runCase(c, root) {
  const dir = path.resolve(root, c.dir, '1');
  const { modelJSON, handler } = ioHandler(dir);
  const graph = isGraphModel(modelJSON);
  let t0 = process.hrtime.bigint();
  const model = graph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const loadMs = ms(t0);
  try {
    const inNames = graph ? model.inputNodes : model.inputNames;
    const outNames = graph ? model.outputNodes : model.outputNames;
    const specs = new Map(c.inputs.map((s) => [s.name, s]));
    for (const s of c.inputs) {
      if (!inNames.includes(s.name)) throw new Error(`models.json names input ${s.name}, TF.js has ${JSON.stringify(inNames)}`);
    }
    const inputs = inNames.map((name, i) => {
      const s = specs.get(name);
      if (!s) throw new Error(`models.json has no spec for input ${name} (TF.js inputs: ${JSON.stringify(inNames)})`);
      const mt = model.inputs[i];
      if (mt && mt.dtype && mt.dtype !== s.dtype) throw new Error(`input ${name}: models.json says ${s.dtype}, the model ${mt.dtype}`);
      if (mt && mt.shape) {
        const ok = mt.shape.length === s.shape.length &&
          mt.shape.every((d, k) => d == null || d === -1 || d === s.shape[k]);
        if (!ok) throw new Error(`input ${name}: shape [${s.shape}] does not fit the model's [${mt.shape}]`);
      }
      return { name, dtype: s.dtype, shape: s.shape.slice(), data: makeInput(c.name, s) };
    });
    const tensors = inputs.map((x) => tf.tensor(x.data, x.shape, x.dtype));
    let outs, values;
    t0 = process.hrtime.bigint();
    try {
      if (graph) {
        const feed = {};
        inNames.forEach((n, i) => { feed[n] = tensors[i]; });
        outs = await model.executeAsync(feed, outNames);
      } else {
        outs = model.predict(tensors.length === 1 ? tensors[0] : tensors);
      }
      if (!Array.isArray(outs)) outs = [outs];
      values = await Promise.all(outs.map((t) => t.data()));
    } finally {
      tensors.forEach((t) => t.dispose());
    }
    const runMs = ms(t0);
    const outputs = outs.map((t, k) => ({ name: outNames[k], dtype: t.dtype, shape: t.shape.slice(), data: values[k] }));
    outs.forEach((t) => t.dispose());
    if (outputs.length !== outNames.length) throw new Error(`TF.js returned ${outputs.length} outputs for ${outNames.length} output nodes`);
    for (const o of outputs) {
      if (!npy.DESCR[o.dtype]) throw new Error(`output ${o.name} has dtype ${o.dtype}, which .npy here cannot hold`);
    }
    return { kind: graph ? 'graph' : 'layers', inputs, outputs, loadMs, runMs };
  } finally {
    model.dispose();
  }
}

function writeCase(outDir, c, r) {
  const final = path.join(outDir, c.name);
  const tmp = path.join(outDir, `.${c.name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const doc = { model: c.name, dir: c.dir };
  if (r.error) {
    doc.error = r.error;
  } else {
    doc.kind = r.kind;
    fs.mkdirSync(path.join(tmp, 'inputs'));
    fs.mkdirSync(path.join(tmp, 'ref'));
    doc.inputs = r.inputs.map((x, i) => {
      const file = `inputs/${i}.npy`;
      npy.write(path.join(tmp, file), x.dtype, x.shape, x.data);
      return { name: x.name, file, dtype: x.dtype, shape: x.shape };
    });
    doc.outputs = r.outputs.map((o, k) => {
      const file = `ref/${k}.npy`;
      npy.write(path.join(tmp, file), o.dtype, o.shape, o.data);
      return { name: o.name, file, dtype: o.dtype, shape: o.shape };
    });
    doc.tfjs_load_ms = r.loadMs;
    doc.tfjs_ms = r.runMs;
  }
  doc.tfjs_version = tf.version.tfjs;
  doc.backend = tf.getBackend();
  fs.writeFileSync(path.join(tmp, 'case.json'), JSON.stringify(doc, null, 1) + '\n');
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const all = JSON.parse(fs.readFileSync(o.models, 'utf8')).cases;
  let cases = all;
  if (o.names.length) {
    const byName = new Map(all.map((c) => [c.name, c]));
    const unknown = o.names.filter((n) => !byName.has(n));
    if (unknown.length) { process.stderr.write(`reference.js: no such case: ${unknown.join(', ')}\n`); process.exit(2); }
    cases = o.names.map((n) => byName.get(n));
  }
  loadTf();
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error('could not select the TF.js cpu backend');
  fs.mkdirSync(o.out, { recursive: true });
  let failed = 0;
  const t0 = process.hrtime.bigint();
  for (const c of cases) {
    let r;
    try {
      r = await runCase(c, o.root);
    } catch (e) {
      r = { error: String(e && e.message ? e.message : e).split('\n')[0] };
      failed++;
    }
    writeCase(o.out, c, r);
    if (r.error) process.stdout.write(`reference: ${c.name}: TF.js FAILED: ${r.error}\n`);
    else process.stdout.write(`reference: ${c.name}: ${r.outputs.length} outputs, load ${r.loadMs} ms, run ${r.runMs} ms\n`);
  }
  process.stdout.write(`reference: ${cases.length} cases in ${ms(t0)} ms, ${failed} failed in TF.js\n`);
  process.exit(failed ? 3 : 0);
}

main().catch((e) => { process.stderr.write(`reference.js: ${e && e.stack ? e.stack : e}\n`); process.exit(1); });
