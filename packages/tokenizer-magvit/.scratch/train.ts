import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, MagvitTokenizer, magvitLossAndGrads, parameterCount } from '../src/index.js';
await initBackend(process.argv[2] ?? 'cpu');
const cfg = createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4 });
console.log('params', parameterCount(cfg));
const m = MagvitTokenizer.create(cfg, { seed: 1 });
const x = tf.randomUniform([4, 16, 16, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
const opt = tf.train.adam(3e-3);
for (let i = 0; i < 8; i++) {
  const t0 = Date.now();
  const { losses, grads } = magvitLossAndGrads(m, x);
  opt.applyGradients(grads);
  tf.dispose(grads);
  console.log(i, losses, Date.now() - t0, 'ms', tf.memory().numTensors);
}
