'use strict';
// Minimal NumPy .npy v1.0 reader/writer: little-endian, C order, dtypes <f4, <i4, |b1, |u1.
// Byte-exact with what numpy.save writes for these dtypes (header padded with spaces to a
// multiple of 64 bytes, terminated by '\n').
const fs = require('fs');
const os = require('os');

const LE = os.endianness() === 'LE';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// dtype name (TF.js style) <-> numpy descr
const DESCR = { float32: '<f4', int32: '<i4', bool: '|b1', uint8: '|u1' };
const FROM_DESCR = {
  '<f4': 'float32', '<i4': 'int32', '|b1': 'bool', '|u1': 'uint8',
  // accepted on read only: explicit little-endian markers numpy may also use
  '|i1': null, '<u1': 'uint8', '<b1': 'bool',
};
const ITEMSIZE = { float32: 4, int32: 4, bool: 1, uint8: 1 };

function shapeRepr(shape) {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function header(dtype, shape) {
  const descr = DESCR[dtype];
  if (!descr) throw new Error(`npy: unsupported dtype ${dtype}`);
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  // total = 6 magic + 2 version + 2 len + dict + '\n', padded to a multiple of 64
  const base = MAGIC.length + 2 + 2;
  const pad = (64 - ((base + dict.length + 1) % 64)) % 64;
  dict = dict + ' '.repeat(pad) + '\n';
  if (dict.length > 0xffff) throw new Error('npy: header too long for v1.0');
  const h = Buffer.alloc(base + dict.length);
  MAGIC.copy(h, 0);
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(dict.length, 8);
  h.write(dict, base, 'latin1');
  return h;
}

// Encode `data` (TypedArray, or plain array) of `dtype` and `shape` into a .npy Buffer.
function encode(dtype, shape, data) {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`npy: ${data.length} values for shape [${shape}]`);
  const body = Buffer.alloc(n * ITEMSIZE[dtype]);
  if (dtype === 'float32' || dtype === 'int32') {
    const T = dtype === 'float32' ? Float32Array : Int32Array;
    if (LE) new T(body.buffer, body.byteOffset, n).set(data);
    else if (dtype === 'float32') for (let i = 0; i < n; i++) body.writeFloatLE(data[i], i * 4);
    else for (let i = 0; i < n; i++) body.writeInt32LE(data[i], i * 4);
  } else if (dtype === 'bool') {
    for (let i = 0; i < n; i++) body[i] = data[i] ? 1 : 0;
  } else if (dtype === 'uint8') {
    for (let i = 0; i < n; i++) body[i] = data[i];
  }
  return Buffer.concat([header(dtype, shape), body]);
}

function write(file, dtype, shape, data) {
  fs.writeFileSync(file, encode(dtype, shape, data));
}

function parseHeaderDict(s) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(s);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(s);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(s);
  if (!descr || !fortran || !shape) throw new Error(`npy: bad header ${JSON.stringify(s)}`);
  const dims = shape[1].split(',').map((t) => t.trim()).filter((t) => t.length > 0)
    .map((t) => { const v = Number(t.replace(/L$/, '')); if (!Number.isInteger(v) || v < 0) throw new Error(`npy: bad shape ${shape[1]}`); return v; });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

// Decode a .npy Buffer -> {dtype, shape, data} with data a Float32Array/Int32Array/Uint8Array.
function decode(buf, where = 'npy') {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`${where}: not a .npy file`);
  const major = buf[6];
  let hlen, off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; }
  else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); off = 12; }
  else throw new Error(`${where}: unsupported .npy version ${major}.${buf[7]}`);
  const h = parseHeaderDict(buf.toString('latin1', off, off + hlen));
  if (h.fortran) throw new Error(`${where}: Fortran order is not supported`);
  const dtype = FROM_DESCR[h.descr];
  if (!dtype) throw new Error(`${where}: unsupported dtype ${h.descr}`);
  const n = h.shape.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  const need = n * ITEMSIZE[dtype];
  if (buf.length - start !== need) throw new Error(`${where}: data is ${buf.length - start} bytes, shape [${h.shape}] ${h.descr} needs ${need}`);
  let data;
  if (dtype === 'float32' || dtype === 'int32') {
    const T = dtype === 'float32' ? Float32Array : Int32Array;
    if (LE) { data = new T(n); new Uint8Array(data.buffer).set(buf.subarray(start, start + need)); }
    else if (dtype === 'float32') { data = new T(n); for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(start + 4 * i); }
    else { data = new T(n); for (let i = 0; i < n; i++) data[i] = buf.readInt32LE(start + 4 * i); }
  }
  else { data = new Uint8Array(buf.subarray(start, start + n)); }
  return { dtype, shape: h.shape, data };
}

function read(file) { return decode(fs.readFileSync(file), file); }

module.exports = { encode, decode, read, write, DESCR };
