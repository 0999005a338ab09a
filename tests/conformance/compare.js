#!/usr/bin/env node
'use strict';
// compare.js: Orchard's outputs against the TensorFlow.js reference of one conformance case.
//
//   compare.js REF_DIR OUT_DIR     (REF_DIR holds case.json + ref/*.npy, OUT_DIR holds
//                                   outputs.json + the .npy files it names)
// prints one JSON object {ok, max_err, tol, worst, problems:[...], outputs:[...]}; exit 0 iff ok.
//
// Rules, per output, matched by name:
//   - dtype and shape must equal the reference's;
//   - int32 / bool / uint8: every element equal;
//   - float32: max|ours - ref| <= tol with tol = 1e-3 * max(1, max|ref|) (max over the finite
//     reference values); where the reference is NaN ours must be NaN, where it is +-Inf ours must
//     be the same infinity; NaN (or Inf) in ours where the reference is finite is a failure;
//   - every reference output must be present, no extra outputs, and outputs.json lists them in
//     the reference's (the model's) order.
// The reported max_err / tol are those of the output with the largest max_err / tol ratio
// (the one closest to failing, or failing worst).
const fs = require('fs');
const path = require('path');
const npy = require('./npy');

const REL_TOL = 1e-3;
const FLOAT = new Set(['float32', 'float16', 'float64']);

function compareTensor(ref, ours) {
  // -> {err, tol, problem?}
  const r = { err: 0, tol: 0 };
  if (ours.dtype !== ref.dtype) { r.problem = `dtype ${ours.dtype}, expected ${ref.dtype}`; r.err = Infinity; return r; }
  if (ours.shape.length !== ref.shape.length || ours.shape.some((d, i) => d !== ref.shape[i])) {
    r.problem = `shape [${ours.shape}], expected [${ref.shape}]`; r.err = Infinity; return r;
  }
  const a = ours.data, b = ref.data, n = b.length;
  if (!FLOAT.has(ref.dtype)) {
    let bad = -1;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (d > r.err) r.err = d;
      if (d !== 0 && bad < 0) bad = i;
    }
    if (bad >= 0) r.problem = `${countNe(a, b)} of ${n} elements differ (first at ${bad}: ${a[bad]} vs ${b[bad]})`;
    return r;
  }
  let maxRef = 0;
  for (let i = 0; i < n; i++) { const v = Math.abs(b[i]); if (Number.isFinite(v) && v > maxRef) maxRef = v; }
  r.tol = REL_TOL * Math.max(1, maxRef);
  let nanBad = 0, firstNan = -1, worst = -1;
  for (let i = 0; i < n; i++) {
    const x = a[i], y = b[i];
    if (Number.isFinite(y)) {
      if (!Number.isFinite(x)) { nanBad++; if (firstNan < 0) firstNan = i; continue; }
      const d = Math.abs(x - y);
      if (d > r.err) { r.err = d; worst = i; }
    } else if (Number.isNaN(y) ? !Number.isNaN(x) : x !== y) {
      nanBad++; if (firstNan < 0) firstNan = i;
    }
  }
  if (nanBad) {
    r.problem = `${nanBad} non-finite mismatch(es) (first at ${firstNan}: ours ${a[firstNan]}, ref ${b[firstNan]})`;
    r.err = Infinity;
  } else if (r.err > r.tol) {
    r.problem = `max abs err ${fmt(r.err)} > tol ${fmt(r.tol)} (at ${worst}: ours ${a[worst]}, ref ${b[worst]})`;
  }
  return r;
}

function countNe(a, b) { let c = 0; for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) c++; return c; }

function fmt(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return x.toPrecision(3);
}

// refDir: case dir (case.json + ref/); outDir: Orchard's --output-dir.
function compareCase(refDir, outDir) {
  const res = { ok: false, max_err: 0, tol: 0, worst: null, problems: [], outputs: [] };
  const kase = JSON.parse(fs.readFileSync(path.join(refDir, 'case.json'), 'utf8'));
  let list;
  try {
    list = JSON.parse(fs.readFileSync(path.join(outDir, 'outputs.json'), 'utf8'));
    if (!Array.isArray(list)) throw new Error('not a JSON list');
  } catch (e) {
    res.problems.push(`outputs.json: ${e.message}`);
    res.max_err = Infinity;
    return res;
  }
  const ours = new Map();
  list.forEach((o, i) => {
    if (!o || typeof o.name !== 'string') { res.problems.push(`outputs.json[${i}] has no name`); return; }
    if (ours.has(o.name)) res.problems.push(`outputs.json names ${o.name} twice`);
    ours.set(o.name, o);
  });
  const refNames = kase.outputs.map((o) => o.name);
  for (const n of ours.keys()) if (!refNames.includes(n)) res.problems.push(`unexpected output ${JSON.stringify(n)} (TF.js outputs: ${JSON.stringify(refNames)})`);
  const ourOrder = list.map((o) => o && o.name).filter((n) => refNames.includes(n));
  if (ourOrder.length === refNames.length && ourOrder.some((n, i) => n !== refNames[i])) {
    res.problems.push(`output order ${JSON.stringify(ourOrder)}, TF.js order ${JSON.stringify(refNames)}`);
  }
  let worstRatio = -1;
  for (const ro of kase.outputs) {
    const entry = { name: ro.name, err: null, tol: null };
    res.outputs.push(entry);
    const oo = ours.get(ro.name);
    if (!oo) { res.problems.push(`missing output ${JSON.stringify(ro.name)}`); res.max_err = Infinity; continue; }
    let t;
    try {
      const ref = npy.read(path.join(refDir, ro.file));
      const got = npy.read(path.resolve(outDir, oo.file));
      if (oo.dtype !== undefined && oo.dtype !== got.dtype) res.problems.push(`${ro.name}: outputs.json says dtype ${oo.dtype}, the file holds ${got.dtype}`);
      if (Array.isArray(oo.shape) && (oo.shape.length !== got.shape.length || oo.shape.some((d, i) => d !== got.shape[i]))) {
        res.problems.push(`${ro.name}: outputs.json says shape [${oo.shape}], the file holds [${got.shape}]`);
      }
      t = compareTensor(ref, got);
    } catch (e) {
      t = { err: Infinity, tol: 0, problem: e.message };
    }
    entry.err = t.err; entry.tol = t.tol;
    if (t.problem) { entry.problem = t.problem; res.problems.push(`${ro.name}: ${t.problem}`); }
    const ratio = t.tol > 0 ? t.err / t.tol : (t.err > 0 ? Infinity : 0);
    if (ratio > worstRatio) { worstRatio = ratio; res.max_err = t.err; res.tol = t.tol; res.worst = ro.name; }
  }
  res.ok = res.problems.length === 0;
  return res;
}

module.exports = { compareCase, compareTensor, fmt, REL_TOL };

if (require.main === module) {
  const [refDir, outDir] = process.argv.slice(2);
  if (!refDir || !outDir) { process.stderr.write('usage: compare.js REF_DIR OUT_DIR\n'); process.exit(2); }
  const r = compareCase(refDir, outDir);
  process.stdout.write(JSON.stringify(r, (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1) + '\n');
  process.exit(r.ok ? 0 : 1);
}
