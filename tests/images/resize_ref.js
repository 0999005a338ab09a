#!/usr/bin/env node
'use strict';
// tests/images/resize_ref.js CASES.json
//
// TF.js 4.22 (CPU backend) references for tests/unit/test_image.c, made at test time (no
// generated data in git). CASES.json is a list of
//   {"in": "x.u8", "h": H, "w": W, "c": C, "oh": OH, "ow": OW, "op": OP, "out": "y.f32"}
// where x.u8 holds H*W*C uint8 pixels (HWC, as image.c decoded them) and OP is
//   "resize"   tf.image.resizeBilinear(int32 pixels, [OH, OW])   (alignCorners=false,
//              halfPixelCenters=false: the defaults), what a TF.js app does after fromPixels;
//   "range11"  the same, then .div(127.5).sub(1)   (orchard.json "range": [-1, 1]);
//   "unit"     the same, then .div(255)            (orchard.json "range": [0, 1]).
// y.f32 receives OH*OW*C float32 values, little-endian.
// @tensorflow/tfjs is looked up in tests/images/node_modules, then in the model cache that
// scripts/fetch-models fills (${ORCHARD_CACHE:-<repo>/.cache}/npm/node_modules).
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const cache = path.join(process.env.ORCHARD_CACHE || path.join(ROOT, '.cache'), 'npm', 'node_modules');
let tf;
for (const base of [path.join(__dirname, 'node_modules'), cache]) {
  try {
    tf = require(require.resolve('@tensorflow/tfjs', { paths: [base] }));
    break;
  } catch (e) { /* next */ }
}
if (!tf) {
  process.stderr.write('resize_ref.js: @tensorflow/tfjs not found: run scripts/fetch-models ' +
                       '(or npm install --ignore-scripts in tests/images)\n');
  process.exit(2);
}

async function main() {
  await tf.setBackend('cpu');
  const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const k of cases) {
    const buf = fs.readFileSync(k.in);
    const px = Int32Array.from(buf.subarray(0, k.h * k.w * k.c));
    const y = tf.tidy(() => {
      let t = tf.tensor4d(px, [1, k.h, k.w, k.c], 'int32');
      t = tf.image.resizeBilinear(t, [k.oh, k.ow]);
      if (k.op === 'range11') t = t.div(127.5).sub(1);
      else if (k.op === 'unit') t = t.div(255);
      else if (k.op !== 'resize') throw new Error('unknown op ' + k.op);
      return t;
    });
    const data = y.dataSync();
    y.dispose();
    fs.writeFileSync(k.out, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
}
main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
