#!/usr/bin/env node
'use strict';
// reference.js OUT.json [--root DIR] [--images a.png,b.png] [--models m1,m2] [--dump-inputs DIR]
//
// The expected :annotate answers for the default garden, computed independently of Orchard:
// each test image (PNG, so decoding is exact everywhere) is pre-processed as the model's
// orchard.json says (config/garden/<m>.orchard.json: gray/bgr conversion, TF bilinear resize
// with alignCorners=false / halfPixelCenters=false stretching to the input size, range,
// mean/std, cast), run on TensorFlow.js 4.22's CPU backend, and post-processed by a JS port of
// server/task.c's rules (top-k with ties by lower index; tf.image.nonMaxSuppression; blazeface
// anchors; argmax / round(255 p) masks; MoveNet keypoints). Writes
//   {"images": {"astronaut.png": {"width", "height"}, ...},
//    "answers": {"<model>": {"<image>": <answer object without model/version>}, ...},
//    "masks":   {"<model>": {"<image>": "<base64 of the raw w*h mask bytes>"}}}
// Deterministic: the same inputs give byte-identical output.
const fs = require('fs');
const path = require('path');

const HERE = __dirname;
const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}
const ROOT = path.resolve(opt('--root', path.join(HERE, '..', '..')));
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const IMAGES = opt('--images', ['astronaut.png', 'chelsea.png', 'coffee.png'].map((f) => path.join(SKIMAGE, f)).join(',')).split(',');
const MODELS = opt('--models', 'emotion,gender,nsfw,blazeface,selfie,meet,movenet,centernet').split(',');
const DUMP = opt('--dump-inputs', null); // DIR: also write each model input as DIR/<model>/<image>.npy
const OUT = args[0];
if (!OUT) {
  console.error('usage: reference.js OUT.json [--root DIR] [--images a.png,...] [--models m,...]');
  process.exit(2);
}

const warn = console.warn;
console.warn = (...a) => {
  const s = a.join(' ');
  if (/looks like you are running TensorFlow\.js in Node\.js|You can use model\.execute\(\) instead/.test(s)) return;
  warn(...a);
};
const tf = require('@tensorflow/tfjs');
const { PNG } = require('pngjs');

function modelDir(name) {
  return path.join(ROOT, 'models', name, '1');
}

async function loadModel(dir) {
  const modelJSON = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const handler = {
    load: async () => tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
      const specs = [], bufs = [];
      for (const g of manifest) {
        specs.push(...g.weights);
        for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const b = Buffer.concat(bufs);
      return [specs, b.buffer.slice(b.byteOffset, b.byteOffset + b.length)];
    }),
  };
  const graph = modelJSON.format === 'graph-model' || !!(modelJSON.modelTopology && Array.isArray(modelJSON.modelTopology.node));
  const model = graph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  return { model, graph };
}

// RGB uint8 [H, W, 3] of a PNG (alpha dropped, gray expanded: pngjs always gives RGBA).
function decodePng(file) {
  const png = PNG.sync.read(fs.readFileSync(file));
  const { width, height, data } = png;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[3 * i] = data[4 * i];
    rgb[3 * i + 1] = data[4 * i + 1];
    rgb[3 * i + 2] = data[4 * i + 2];
  }
  return { width, height, rgb };
}

// The model input tensor for one image, per orchard.json's "image" entry and the input's
// shape/dtype (the contract in /tmp/s4/orchard_json.md, implemented by server/image.c).
function preprocess(img, spec, shape, dtype) {
  return tf.tidy(() => {
    const layout = spec.layout || 'NHWC';
    const c = layout === 'NHWC' ? shape[3] : shape[1];
    const size = spec.size || (layout === 'NHWC' ? [shape[1], shape[2]] : [shape[2], shape[3]]);
    const channels = spec.channels || (c === 1 ? 'gray' : 'rgb');
    let x = tf.tensor3d(img.rgb, [img.height, img.width, 3], 'int32').toFloat();
    if (channels === 'gray') {
      const w = spec.gray_weights || [0.299, 0.587, 0.114];
      const [r, g, b] = tf.split(x, 3, 2);
      x = tf.addN([tf.mul(r, w[0]), tf.mul(g, w[1]), tf.mul(b, w[2])]);
    } else if (channels === 'bgr') {
      x = tf.reverse(x, 2);
    }
    x = tf.image.resizeBilinear(x.expandDims(0), size, false, false);
    const [lo, hi] = spec.range || [0, 255];
    if (lo !== 0 || hi !== 255) x = tf.add(tf.mul(x, (hi - lo) / 255), lo);
    if (spec.mean) x = tf.sub(x, spec.mean);
    if (spec.std) x = tf.div(x, spec.std);
    if (layout === 'NCHW') x = tf.transpose(x, [0, 3, 1, 2]);
    if (dtype === 'int32') x = tf.round(x).clipByValue(-2147483648, 2147483647).toInt();
    return x;
  });
}

// A .npy v1.0 file of a float32 or int32 tensor (for --dump-inputs: `orchard run` input).
function npyBytes(shape, dtype, values) {
  const descr = dtype === 'int32' ? '<i4' : '<f4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93]).copy(pre, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

function byScore(a, b) {
  const an = Number.isNaN(a.score), bn = Number.isNaN(b.score);
  if (an !== bn) return an ? 1 : -1;
  if (!an && a.score !== b.score) return b.score - a.score;
  return a.idx - b.idx;
}

const sigmoid = (x) => Math.fround(1 / (1 + Math.exp(-x)));
function activate(act, v) {
  if (act === 'sigmoid') return v.map(sigmoid);
  if (act === 'softmax') {
    const mx = Math.max(...v);
    const e = v.map((x) => Math.exp(x - mx));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => Math.fround(x / s));
  }
  return v.slice();
}

// name (or name + ":0") -> index in the TF.js output order
function outIndex(outNames, name) {
  let i = outNames.indexOf(name);
  if (i < 0) i = outNames.indexOf(name + ':0');
  if (i < 0) i = outNames.findIndex((n) => n + ':0' === name);
  if (i < 0) throw new Error(`no output ${name} in ${JSON.stringify(outNames)}`);
  return i;
}

async function answer(task, outs, outNames, inShape, img) {
  const ans = { task: task.kind, image: { width: img.width, height: img.height } };
  let mask = null;
  const get = (name) => outs[outIndex(outNames, name)];
  const single = () => (task.output ? get(task.output) : outs[0]);
  if (task.kind === 'classification') {
    const v = activate(task.activation || 'none', Array.from(await single().data()));
    const s = v.map((score, idx) => ({ score, idx })).sort(byScore);
    ans.classes = s.slice(0, Math.min(task.top_k || 5, v.length)).map((c) => ({ label: task.labels[c.idx], score: c.score }));
  } else if (task.kind === 'detection') {
    const [H, W] = task.input_size || [inShape[1], inShape[2]];
    const boxes = [], scores = [], extra = [];
    if (task.decoder === 'centernet') {
      const d = Array.from(await single().data());
      for (let i = 0; i < d.length / 6; i++) {
        const r = d.slice(6 * i, 6 * i + 6);
        boxes.push([r[1] / H, r[0] / W, r[3] / H, r[2] / W].map(Math.fround));
        scores.push(r[4]);
        extra.push({ cls: r[5] });
      }
    } else {
      for (const h of task.outputs) {
        const st = h.stride, sc = Array.from(await get(h.scores).data());
        const bt = get(h.boxes), bv = Array.from(await bt.data()), nv = bt.shape[2];
        const gh = Math.ceil(H / st), gw = Math.ceil(W / st), per = sc.length / (gh * gw);
        let r = 0;
        for (let gy = 0; gy < gh; gy++) for (let gx = 0; gx < gw; gx++) for (let k = 0; k < per; k++, r++) {
          const ax = st * (gx + 0.5), ay = st * (gy + 0.5), v = bv.slice(r * nv, (r + 1) * nv);
          const cx = v[0] + ax, cy = v[1] + ay;
          boxes.push([(cy - v[3] / 2) / H, (cx - v[2] / 2) / W, (cy + v[3] / 2) / H, (cx + v[2] / 2) / W].map(Math.fround));
          scores.push(sc[r]);
          extra.push({ v, ax, ay });
        }
      }
    }
    const act = activate(task.activation || 'none', scores);
    const keep = await tf.image.nonMaxSuppressionAsync(tf.tensor2d(boxes), tf.tensor1d(act),
      task.max_detections || 20, task.iou_threshold ?? 0.5, task.score_threshold ?? 0.5);
    const idx = Array.from(await keep.data());
    ans.detections = idx.map((i) => {
      const b = boxes[i];
      const det = { label: null, score: act[i], box: { x: b[1], y: b[0], width: b[3] - b[1], height: b[2] - b[0] } };
      if (task.decoder === 'centernet') {
        const c = extra[i].cls;
        det.label = Number.isInteger(c) && c >= 0 && c < task.labels.length ? task.labels[c] : `class ${c}`;
      } else {
        det.label = task.labels[0];
        if (task.keypoints) {
          const { v, ax, ay } = extra[i];
          det.keypoints = task.keypoints.map((name, k) => ({ name, x: (v[4 + 2 * k] + ax) / W, y: (v[5 + 2 * k] + ay) / H }));
        }
      }
      return det;
    });
  } else if (task.kind === 'segmentation') {
    const t = single(), [, h, w, c] = t.shape, v = await t.data();
    mask = new Uint8Array(h * w);
    const count = new Array(c).fill(0);
    for (let i = 0; i < h * w; i++) {
      if (c === 1) {
        const p = task.activation === 'sigmoid' ? sigmoid(v[i]) : v[i];
        const m = Math.round(Math.fround(255 * p));
        mask[i] = Number.isNaN(m) ? 0 : Math.max(0, Math.min(255, m));
        if (p >= 0.5) count[0]++;
      } else {
        let best = 0;
        for (let k = 1; k < c; k++) if (v[i * c + k] > v[i * c + best]) best = k;
        mask[i] = best;
        count[best]++;
      }
    }
    ans.mask = { width: w, height: h, labels: task.labels.slice() };
    ans.areas = task.labels.map((label, k) => ({ label, fraction: count[k] / (h * w) }));
  } else if (task.kind === 'pose') {
    const v = Array.from(await single().data());
    const thr = task.score_threshold || 0;
    ans.keypoints = [];
    task.keypoints.forEach((name, k) => {
      const s = task.activation === 'sigmoid' ? sigmoid(v[3 * k + 2]) : v[3 * k + 2];
      if (s > thr) ans.keypoints.push({ name, x: v[3 * k + 1], y: v[3 * k], score: s });
    });
  }
  return { ans, mask };
}

async function main() {
  await tf.setBackend('cpu');
  const images = {}, decoded = {};
  for (const f of IMAGES) {
    const img = decodePng(f);
    decoded[path.basename(f)] = img;
    images[path.basename(f)] = { width: img.width, height: img.height };
  }
  const answers = {}, masks = {};
  for (const m of MODELS) {
    const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'config', 'garden', `${m}.orchard.json`), 'utf8'));
    const { model, graph } = await loadModel(modelDir(m));
    const inNames = graph ? model.inputNodes : model.inputNames;
    const outNames = graph ? model.outputNodes : model.outputNames;
    const inShape = graph ? model.inputs[0].shape : model.inputs[0].shape.map((d) => (d === null ? -1 : d));
    const inDtype = model.inputs[0].dtype;
    if (inNames.length !== 1) throw new Error(`${m}: expected one input, got ${inNames}`);
    const specKey = Object.keys(cfg.inputs)[0];
    const spec = cfg.inputs[specKey].image;
    answers[m] = {};
    for (const [name, img] of Object.entries(decoded)) {
      const x = preprocess(img, spec, inShape, inDtype);
      if (DUMP) {
        fs.mkdirSync(path.join(DUMP, m), { recursive: true });
        fs.writeFileSync(path.join(DUMP, m, `${name}.npy`), npyBytes(x.shape, x.dtype, x.dataSync()));
      }
      let outs;
      if (graph) {
        outs = await model.executeAsync(x, outNames);
        if (!Array.isArray(outs)) outs = [outs];
      } else {
        outs = model.predict(x);
        if (!Array.isArray(outs)) outs = [outs];
      }
      const { ans, mask } = await answer(cfg.task, outs, outNames, inShape, img);
      answers[m][name] = ans;
      if (mask) {
        masks[m] = masks[m] || {};
        masks[m][name] = Buffer.from(mask).toString('base64');
      }
      tf.dispose([x, ...outs]);
    }
    model.dispose();
    console.error(`reference: ${m} done`);
  }
  fs.writeFileSync(OUT, JSON.stringify({ images, answers, masks }, null, 1) + '\n');
}

main().catch((e) => {
  console.error(`reference.js: ${e.stack || e}`);
  process.exit(1);
});
