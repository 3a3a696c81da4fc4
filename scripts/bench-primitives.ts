/**
 * Benchmarks every primitive of @showo/runtime — forward, and forward + backward — fast (ops/primitives.ts) versus
 * the compositions of tfjs built-in ops with their built-in gradients (ops/reference.ts), at the shapes of the
 * bench configuration (hidden 256, 8 heads, intermediate 1024, 291 positions, batch 2) and of a small MAGVIT stage.
 *
 *   node --import tsx scripts/bench-primitives.ts [--backend wasm|cpu|tensorflow] [--filter text] [--reps n] [--wall]
 *                                                 [--workers-only | --no-workers]
 *
 * Prints a table: median milliseconds, effective GFLOP/s for matMul-bound primitives, and that rate as a share of
 * the measured peak (a plain 2-D 1024×1024 matMul on the same backend). The machine is shared: re-run before
 * trusting a small difference.
 *
 * A second table measures the DualEngine (packages/runtime/src/workers): the same calls with `workers: 1` (main
 * thread only) and `workers: 2` (main thread + a worker's wasm instance), in wall-clock time since the point is
 * parallelism. It needs two idle cores to show its gain; the load average is printed next to it.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../packages/runtime/src/backend.js';
import * as fast from '../packages/runtime/src/ops/primitives.js';
import * as ref from '../packages/runtime/src/ops/reference.js';
import { DualEngine, type NamedTensors } from '../packages/runtime/src/workers/dual-engine.js';
import { makeMlpWeights } from '../packages/runtime/src/workers/demo-engine.js';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const backend = opt('backend', 'wasm');
const filter = opt('filter', '');
const minReps = Number(opt('reps', '5'));

type Fn = (...t: tf.Tensor[]) => tf.Tensor;

interface Entry {
  name: string;
  make: () => tf.Tensor[];
  /** indices of inputs to differentiate */
  diff: number[];
  fast: Fn;
  ref: Fn;
  /** forward FLOPs of the matMul/conv work (0: element-wise, no GFLOP/s column) */
  flops: number;
}

/**
 * Fastest run of f, in ms, over at least minReps runs (and at least ~300 ms), after one warm-up. Measured as this
 * process's CPU time (user + system), not wall time: the wasm backend is single-threaded, so on an idle machine the
 * two agree, while on a shared one wall time was inflated 2–4× by other processes. Even CPU time is inflated under
 * load (shared caches, hyper-threads), so the least-disturbed run (the minimum) is reported, not the median.
 * `--wall` switches to wall-clock time.
 */
const useWall = args.includes('--wall');
function timeIt(f: () => tf.Tensor | tf.Tensor[]): number {
  const once = (): number => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = f();
    const list = Array.isArray(out) ? out : [out];
    for (const t of list) t.dataSync();
    const c = process.cpuUsage(c0);
    const ms = useWall ? performance.now() - t0 : (c.user + c.system) / 1000;
    tf.dispose(list);
    return ms;
  };
  once();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < 300 && times.length < 50)) times.push(once());
  return Math.min(...times);
}

function forwardBackward(f: Fn, inputs: tf.Tensor[], diff: number[]): () => tf.Tensor[] {
  const g = tf.valueAndGrads((...xs: tf.Tensor[]) => {
    const all = inputs.slice();
    diff.forEach((idx, j) => (all[idx] = xs[j]));
    // Σ f·R with a fixed R would add an element-wise pass; the sum alone already back-propagates ones.
    return tf.sum(f(...all));
  });
  return () => {
    const { value, grads } = g(diff.map((i) => inputs[i]));
    return [value, ...grads];
  };
}

const rn = (shape: number[], scale = 1): tf.Tensor => tf.mul(tf.randomNormal(shape), scale);

// Bench configuration of showo-core (see shared notes): hidden 256, 8 heads, MLP 1024, 291 positions, batch 2.
const B = 2;
const L = 291;
const HID = 256;
const HEADS = 8;
const MLP = 1024;
const N = B * L;

const entries: Entry[] = [
  {
    name: `linear [${B},${L},${HID}]·[${HID},${MLP}]+b`,
    make: () => [rn([B, L, HID]), rn([HID, MLP], 0.05), rn([MLP])],
    diff: [0, 1, 2],
    fast: (x, w, b) => fast.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    ref: (x, w, b) => ref.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    flops: 2 * N * HID * MLP,
  },
  {
    name: `linear [${B},${L},${MLP}]·[${MLP},${HID}]+b`,
    make: () => [rn([B, L, MLP]), rn([MLP, HID], 0.05), rn([HID])],
    diff: [0, 1, 2],
    fast: (x, w, b) => fast.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    ref: (x, w, b) => ref.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    flops: 2 * N * MLP * HID,
  },
  {
    name: `linearTransposed [${B},${L},${HID}]·[2048,${HID}]ᵀ`,
    make: () => [rn([B, L, HID]), rn([2048, HID], 0.05)],
    diff: [0, 1],
    fast: (x, w) => fast.linearTransposed(x, w as tf.Tensor2D),
    ref: (x, w) => tf.matMul(x.reshape([-1, HID]), w as tf.Tensor2D, false, true),
    flops: 2 * N * HID * 2048,
  },
  {
    name: `embedding [${B},${L}] ids, table [2048,${HID}]`,
    make: () => [tf.randomUniform([B, L], 0, 2048, 'int32'), rn([2048, HID])],
    diff: [1],
    fast: (ids, t) => fast.embedding(ids, t as tf.Tensor2D),
    ref: (ids, t) => ref.embedding(ids, t as tf.Tensor2D),
    flops: 0,
  },
  {
    name: `layerNorm [${B},${L},${HID}]`,
    make: () => [rn([B, L, HID]), rn([HID]), rn([HID])],
    diff: [0, 1, 2],
    fast: (x, g, b) => fast.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, g, b) => ref.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
    flops: 0,
  },
  {
    name: `geluTanh [${B},${L},${MLP}]`,
    make: () => [rn([B, L, MLP])],
    diff: [0],
    fast: (x) => fast.geluTanh(x),
    ref: (x) => ref.geluTanh(x),
    flops: 0,
  },
  {
    name: `silu [1,32,32,128]`,
    make: () => [rn([1, 32, 32, 128])],
    diff: [0],
    fast: (x) => fast.silu(x),
    ref: (x) => ref.silu(x),
    flops: 0,
  },
  {
    name: `groupNorm [1,32,32,128] 32 groups`,
    make: () => [rn([1, 32, 32, 128]), rn([128]), rn([128])],
    diff: [0, 1, 2],
    fast: (x, g, b) => fast.groupNorm(x as tf.Tensor4D, 32, g as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, g, b) => ref.groupNorm(x as tf.Tensor4D, 32, g as tf.Tensor1D, b as tf.Tensor1D),
    flops: 0,
  },
  {
    name: `groupNorm [4,16,16,128] 32 groups`,
    make: () => [rn([4, 16, 16, 128]), rn([128]), rn([128])],
    diff: [0, 1, 2],
    fast: (x, g, b) => fast.groupNorm(x as tf.Tensor4D, 32, g as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, g, b) => ref.groupNorm(x as tf.Tensor4D, 32, g as tf.Tensor1D, b as tf.Tensor1D),
    flops: 0,
  },
  {
    name: `conv2d 3×3 s1 same [1,32,32,128]→128 +b`,
    make: () => [rn([1, 32, 32, 128]), rn([3, 3, 128, 128], 0.03), rn([128])],
    diff: [0, 1, 2],
    fast: (x, w, b) => fast.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 1, 'same'),
    ref: (x, w, b) => ref.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 1, 'same'),
    flops: 2 * 32 * 32 * 9 * 128 * 128,
  },
  {
    name: `conv2d 3×3 s2 pad[[0,1],[0,1]] [1,64,64,64]→64 +b`,
    make: () => [rn([1, 64, 64, 64]), rn([3, 3, 64, 64], 0.04), rn([64])],
    diff: [0, 1, 2],
    fast: (x, w, b) => fast.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 2, [[0, 1], [0, 1]]),
    ref: (x, w, b) => ref.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 2, [[0, 1], [0, 1]]),
    flops: 2 * 32 * 32 * 9 * 64 * 64,
  },
  {
    name: `conv2d 1×1 [1,32,32,128]→256 +b`,
    make: () => [rn([1, 32, 32, 128]), rn([1, 1, 128, 256], 0.08), rn([256])],
    diff: [0, 1, 2],
    fast: (x, w, b) => fast.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 1, 'valid'),
    ref: (x, w, b) => ref.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 1, 'valid'),
    flops: 2 * 32 * 32 * 128 * 256,
  },
  {
    name: `upsampleNearest2x [1,32,32,128]`,
    make: () => [rn([1, 32, 32, 128])],
    diff: [0],
    fast: (x) => fast.upsampleNearest2x(x as tf.Tensor4D),
    ref: (x) => ref.upsampleNearest2x(x as tf.Tensor4D),
    flops: 0,
  },
  {
    name: `attention B${B} L${L} ${HEADS}×${HID / HEADS}`,
    make: () => [rn([B, L, HID]), rn([B, L, HID]), rn([B, L, HID]), tf.zeros([B, L, L])],
    diff: [0, 1, 2],
    fast: (q, k, v, m) => fast.multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m as tf.Tensor3D, HEADS),
    ref: (q, k, v, m) => ref.multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m as tf.Tensor3D, HEADS),
    flops: 4 * B * L * L * HID,
  },
  {
    name: `attention KV-cache B${B} Lq16 Lk${L} ${HEADS}×${HID / HEADS}`,
    make: () => [rn([B, 16, HID]), rn([B, L, HID]), rn([B, L, HID]), tf.zeros([B, 16, L])],
    diff: [0, 1, 2],
    fast: (q, k, v, m) => fast.multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m as tf.Tensor3D, HEADS),
    ref: (q, k, v, m) => ref.multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, m as tf.Tensor3D, HEADS),
    flops: 4 * B * 16 * L * HID,
  },
];

/** Median wall ms of an async call, after one warm-up. */
async function timeAsync(f: () => Promise<void>, reps: number): Promise<number> {
  await f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * How many cores this process can use right now: the same busy loop alone on the main thread, then on the main
 * thread and in a worker at once; returns 2 × alone / together (≈2 when two cores are free, ≈1 when the machine is
 * saturated by other processes).
 */
async function parallelCapacity(): Promise<number> {
  const loop = 'let x = 0; for (let i = 0; i < 1.5e8; i++) x = (x + i) % 1000003;';
  const spin = new Function(loop) as () => void;
  const worker = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => { ${loop} parentPort.postMessage(0); });`, { eval: true });
  try {
    await new Promise((r) => worker.once('online', r));
    const measure = async (): Promise<number> => {
      let t0 = performance.now();
      spin();
      const alone = performance.now() - t0;
      t0 = performance.now();
      const done = new Promise((r) => worker.once('message', r));
      worker.postMessage(0);
      spin();
      await done;
      return (2 * alone) / (performance.now() - t0);
    };
    await measure();
    return await measure();
  } finally {
    await worker.terminate();
  }
}

async function benchWorkers(): Promise<void> {
  const moduleUrl = new URL('../packages/runtime/src/workers/demo-engine.ts', import.meta.url);
  const weights = makeMlpWeights(256, 1024, 256, 1);
  const rows = 1164; // 4 × 291 positions per branch / per half batch
  const xa = tf.randomNormal([rows, 256]);
  const xb = tf.randomNormal([rows, 256]);
  const x2 = tf.concat([xa, xb]);
  const target = tf.randomNormal([2 * rows, 256]);
  const att = (): NamedTensors => ({ q: tf.randomNormal([1, L, HID]), k: tf.randomNormal([1, L, HID]), v: tf.randomNormal([1, L, HID]), bias: tf.zeros([1, L, L]) });
  const ia = att();
  const ib = att();
  const mlpFlops = 2 * rows * 256 * 1024 * 2;
  const cases: Array<{ name: string; flops: number; run: (e: DualEngine) => Promise<void> }> = [
    {
      name: `CFG pair: MLP 256→1024→256 on ${rows} rows per branch (runPair)`,
      flops: 2 * mlpFlops,
      run: async (e) => tf.dispose((await e.runPair('mlpForward', [{ x: xa }, { x: xb }])) as tf.Tensor[]),
    },
    {
      name: `batch split: same MLP, ${2 * rows} rows (runSplit)`,
      flops: 2 * mlpFlops,
      run: async (e) => tf.dispose((await e.runSplit('mlpForward', { x: x2 })) as tf.Tensor),
    },
    {
      name: `training: MLP loss + grads, ${2 * rows} rows split in halves (valueAndGrads)`,
      flops: 6 * mlpFlops,
      run: async (e) => {
        const { value, grads } = await e.valueAndGrads('mlpLoss', { x: x2, target });
        tf.dispose([value, ...Object.values(grads)]);
      },
    },
    {
      name: `CFG pair: attention L${L} ${HEADS}×${HID / HEADS}, batch 1 per branch`,
      flops: 2 * 4 * L * L * HID,
      run: async (e) => tf.dispose((await e.runPair('attention', [ia, ib], { heads: HEADS })) as tf.Tensor[]),
    },
  ];
  cases.push({
    name: `transport only: echo of [${rows}, 256] (runPair)`,
    flops: 0,
    run: async (e) => tf.dispose((await e.runPair('echo', [{ x: xa }, { x: xb }])) as tf.Tensor[]),
  });
  const engines: Record<number, DualEngine> = {};
  let startMs = 0;
  for (const w of [1, 2] as const) {
    const t0 = performance.now();
    engines[w] = await DualEngine.create({ module: moduleUrl, workers: w });
    await engines[w].setWeights(weights);
    if (w === 2) startMs = performance.now() - t0;
  }
  const capacity = await parallelCapacity();
  console.log('');
  console.log(`DualEngine (wall-clock ms, median of ${Math.max(minReps, 5)}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores; worker start + weights ${startMs.toFixed(0)} ms)`);
  console.log(
    `parallel capacity now: ${capacity.toFixed(2)} cores (a pure-JS loop on the main thread and in a worker at once, versus alone; ` +
      '2.0 on an idle 2-core machine — the speed-up below cannot exceed it)',
  );
  const head = ['call', 'workers: 1', 'workers: 2', 'speed-up', 'GFLOP/s w2'];
  const out: string[][] = [];
  for (const c of cases) {
    if (filter && !c.name.includes(filter)) continue;
    const t1 = await timeAsync(() => c.run(engines[1]), Math.max(minReps, 5));
    const t2 = await timeAsync(() => c.run(engines[2]), Math.max(minReps, 5));
    out.push([c.name, t1.toFixed(1), t2.toFixed(1), `${(t1 / t2).toFixed(2)}×`, c.flops ? (c.flops / t2 / 1e6).toFixed(1) : '-']);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...out.map((r) => r[i].length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const r of out) console.log(line(r));
  await engines[1].dispose();
  await engines[2].dispose();
  tf.dispose([xa, xb, x2, target, ...Object.values(ia), ...Object.values(ib), ...Object.values(weights)]);
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : ms.toFixed(2);
}

async function main(): Promise<void> {
  const choice = await initBackend(backend);
  const peakA = tf.randomNormal([1024, 1024]);
  const peakB = tf.randomNormal([1024, 1024]);
  const peakMs = timeIt(() => tf.matMul(peakA, peakB));
  const peak = (2 * 1024 ** 3) / peakMs / 1e6;
  tf.dispose([peakA, peakB]);
  console.log(`backend ${choice.name} (${choice.provider}); peak: plain 2-D matMul 1024×1024 ${peakMs.toFixed(1)} ms = ${peak.toFixed(1)} GFLOP/s`);
  console.log(`times: fastest run, ${useWall ? 'wall-clock' : 'CPU'} ms of this process; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('fwd: forward only; f+b: forward + backward (all float inputs); GFLOP/s counts matMul/conv work only (backward = 2× forward)');
  const head = ['primitive', 'fwd fast', 'fwd builtin', '×', 'f+b fast', 'f+b builtin', '×', 'GFLOP/s fwd', 'GFLOP/s f+b', '% peak f+b'];
  const rows: string[][] = [];
  for (const e of entries) {
    if (filter && !e.name.includes(filter)) continue;
    const inputs = e.make();
    const fwdFast = timeIt(() => e.fast(...inputs));
    const fwdRef = timeIt(() => e.ref(...inputs));
    const fbFast = timeIt(forwardBackward(e.fast, inputs, e.diff));
    let fbRef: number | undefined;
    try {
      fbRef = timeIt(forwardBackward(e.ref, inputs, e.diff));
    } catch (err) {
      fbRef = undefined;
      console.log(`  (${e.name}: built-in gradient fails on ${choice.name}: ${(err as Error).message.split('\n')[0].slice(0, 100)})`);
    }
    tf.dispose(inputs);
    const gf = (flops: number, ms: number): string => (flops ? (flops / ms / 1e6).toFixed(1) : '-');
    rows.push([
      e.name,
      fmt(fwdFast),
      fmt(fwdRef),
      (fwdRef / fwdFast).toFixed(1),
      fmt(fbFast),
      fmt(fbRef),
      fbRef === undefined ? '-' : (fbRef / fbFast).toFixed(1),
      gf(e.flops, fwdFast),
      gf(3 * e.flops, fbFast),
      e.flops ? `${((300 * e.flops) / fbFast / 1e6 / peak).toFixed(0)}%` : '-',
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

async function run(): Promise<void> {
  if (!args.includes('--workers-only')) await main();
  else await initBackend(backend);
  if (!args.includes('--no-workers')) await benchWorkers();
}

run().catch((e) => {
  console.error(e);
  process.exit(1);
});
