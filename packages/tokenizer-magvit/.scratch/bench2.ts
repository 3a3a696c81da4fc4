import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, MagvitTokenizer, magvitLossAndGrads, parameterCount, type CreateMagvitConfigOptions } from '../src/index.js';
await initBackend(process.argv[2] ?? 'wasm');
const configs: Record<string, CreateMagvitConfigOptions> = {
  A: { ch: 32, chMult: [1, 2, 2], decoderChMult: [1, 1, 2], numResBlocks: 1 },
  B: { ch: 16, normGroups: 8, chMult: [1, 2, 4], numResBlocks: 1 },
  C: { ch: 32, chMult: [1, 1, 2], numResBlocks: 1 },
};
const which = (process.argv[3] ?? 'A,B,C').split(',');
const x = tf.randomUniform([16, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
for (const k of which) {
  const cfg = createMagvitConfig({ ...configs[k], resolution: 64, codebookDim: 8 });
  const m = MagvitTokenizer.create(cfg, { seed: 1 });
  const opt = tf.train.adam(1e-3);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const { grads } = magvitLossAndGrads(m, x);
    opt.applyGradients(grads);
    tf.dispose(grads);
    times.push(Date.now() - t0);
  }
  const t0 = Date.now();
  tf.tidy(() => m.encodeToCodes(x).dataSync());
  const enc = Date.now() - t0;
  console.log(k, 'params', parameterCount(cfg), 'step ms', times, 'encode16 ms', enc);
  opt.dispose(); m.dispose();
}
