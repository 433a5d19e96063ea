#!/usr/bin/env node
// Float reference runner: feeds .npy inputs (or a seeded pseudo-random tensor) to onnxruntime-node, writes every
// output as OUTDIR/<output name, '/' and ':' made '_'>.npy (float32), and with --bench prints one timing line.
// Needs tests/ref/install.sh first. Exit status: 0 ok, 1 bad model or input, 2 usage, 3 system.
'use strict';
const fs = require('fs');
const path = require('path');

const USAGE = 'usage: ort_run.js MODEL.onnx OUTDIR [--threads N] [--runs N] [--bench] [--verbose]\n' +
  '                 (input0.npy [input1.npy ...] | --random-input SEED [--shape D,D,... ...])';

function die(code, msg) {
  process.stderr.write(`ort_run: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { threads: 1, runs: 10, bench: false, verbose: false, seed: null, shapes: [], files: [] };
  const num = (s, what) => {
    if (!/^\d+$/.test(s || '')) die(2, `${what} needs a non-negative integer, got '${s}'`);
    return Number(s);
  };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads') o.threads = num(argv[++i], '--threads');
    else if (a === '--runs') o.runs = num(argv[++i], '--runs');
    else if (a === '--bench') o.bench = true;
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--random-input') o.seed = num(argv[++i], '--random-input');
    else if (a === '--shape') {
      const s = argv[++i] || '';
      if (!/^\d+(,\d+)*$/.test(s)) die(2, `--shape wants D,D,...; got '${s}'`);
      o.shapes.push(s.split(',').map(Number));
    } else if (a.startsWith('--')) die(2, `unknown option '${a}'\n${USAGE}`);
    else pos.push(a);
  }
  if (pos.length < 2) die(2, USAGE);
  [o.model, o.outdir, ...o.files] = pos;
  if ((o.seed === null) === (o.files.length === 0)) die(2, `give input files or --random-input, not both\n${USAGE}`);
  if (o.bench && o.runs < 1) die(2, '--runs must be at least 1 with --bench');
  return o;
}

// .npy: '\x93NUMPY', version, header length (u16 in v1, u32 in v2/v3), a Python dict literal, then the data.
function readNpy(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { die(3, `cannot read '${file}': ${e.message}`); }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') die(1, `'${file}': not a .npy file`);
  const major = buf[6];
  if (major < 1 || major > 3) die(1, `'${file}': unsupported .npy version ${major}`);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  if (start > buf.length) die(1, `'${file}': truncated header`);
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) die(1, `'${file}': malformed header`);
  if (descr[1] !== '<f4') die(1, `'${file}': dtype '${descr[1]}' is not little-endian float32 ('<f4')`);
  if (fortran[1] === 'True') die(1, `'${file}': Fortran order is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length - start !== 4 * n) die(1, `'${file}': ${buf.length - start} data bytes, expected ${4 * n}`);
  const data = new Float32Array(n);
  Buffer.from(data.buffer).set(buf.subarray(start));
  return { dims, data };
}

function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data, Number);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength)]));
}

// mulberry32: a tiny fixed PRNG, so the same SEED gives the same tensor everywhere; uniform in [0, 1).
function randomTensor(seed, n) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) >>> 8) / 16777216;
  }
  return out;
}

function inputShape(meta, given) {
  const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : null));
  if (!given) {
    if (dims.includes(null)) die(2, `input '${meta.name}' has dynamic shape [${meta.shape}]: give --shape`);
    return dims;
  }
  if (given.length !== dims.length || dims.some((d, i) => d !== null && d !== given[i])) {
    die(2, `--shape ${given} does not fit input '${meta.name}' [${meta.shape}]`);
  }
  return given;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require(path.join(__dirname, '..', 'cache', 'ort', 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    die(3, `onnxruntime-node is not installed (run tests/ref/install.sh): ${e.message}`);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(o.model, {
      intraOpNumThreads: o.threads, interOpNumThreads: 1,
      graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 3,
    });
  } catch (e) {
    die(1, `cannot load '${o.model}': ${e.message}`);
  }
  const metas = session.inputMetadata;
  const feeds = {};
  const written = [];
  if (o.seed !== null) {
    metas.forEach((m, k) => {
      if (m.type !== 'float32') die(1, `input '${m.name}' is ${m.type}; only float32 inputs are supported`);
      const dims = inputShape(m, o.shapes[k]);
      const data = randomTensor(o.seed + k, dims.reduce((a, b) => a * b, 1));
      feeds[m.name] = new ort.Tensor('float32', data, dims);
      written.push([path.join(o.outdir, `input_${k}.npy`), dims, data]);
    });
  } else {
    if (o.files.length !== metas.length) die(2, `model has ${metas.length} inputs, ${o.files.length} files given`);
    metas.forEach((m, k) => {
      const { dims, data } = readNpy(o.files[k]);
      feeds[m.name] = new ort.Tensor('float32', data, dims);
    });
  }
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    die(1, `run failed: ${e.message}`);
  }
  for (const name of session.outputNames) {
    const t = results[name];
    const file = path.join(o.outdir, `${name.replace(/[/:]/g, '_')}.npy`);
    written.push([file, t.dims, t.data]);
    if (o.verbose) process.stderr.write(`${name} [${t.dims.join(',')}] ${t.type} -> ${file}\n`);
  }
  let timing = '';
  if (o.bench) {
    const ms = [];
    for (let i = 0; i < o.runs; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const mid = ms.length >> 1;
    const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
    timing = `median_ms=${median.toFixed(3)} min_ms=${ms[0].toFixed(3)}\n`;
  }
  try {
    fs.mkdirSync(o.outdir, { recursive: true });
    for (const [file, dims, data] of written) writeNpy(file, dims, data);
  } catch (e) {
    die(3, `cannot write to '${o.outdir}': ${e.message}`);
  }
  process.stdout.write(timing);
}

main();
