import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, MagvitTokenizer, magvitLossAndGrads, parameterCount } from '../src/index.js';
const backend = process.argv[2] ?? 'wasm';
await initBackend(backend);
const palette: [number, number, number][] = [[255,255,255],[0,0,0],[255,0,0],[0,255,0],[0,0,255],[255,255,0],[255,0,255]];
const mode = process.argv[3] ?? 'rgb';
const cfg = createMagvitConfig({ ch: 32, chMult: [1, 2, 2], numResBlocks: 1, resolution: 64, codebookDim: 8, ...(mode === 'palette' ? { palette } : {}) });
console.log('params', parameterCount(cfg), 'mode', mode);
const m = MagvitTokenizer.create(cfg, { seed: 1 });
const x = tf.randomUniform([16, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
const opt = tf.train.adam(1e-3);
const steps = Number(process.argv[4] ?? 5);
for (let i = 0; i < steps; i++) {
  const t0 = Date.now();
  const { losses, grads } = magvitLossAndGrads(m, x, { edgeWeight: mode === 'palette' ? 5 : 1 });
  opt.applyGradients(grads);
  tf.dispose(grads);
  console.log(i, losses.total.toFixed(4), Date.now() - t0, 'ms', tf.memory().numTensors);
}
if (process.argv[5] === 'prof') {
  const prof = await tf.profile(() => { const r = magvitLossAndGrads(m, x); tf.dispose(r.grads); });
  const agg = new Map<string, number>();
  for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log([...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15));
}
