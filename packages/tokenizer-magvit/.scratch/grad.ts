import * as tf from '@tensorflow/tfjs';
import { initBackend, conv2d, groupNorm, silu } from '@showo/runtime';
await initBackend('wasm');
const x = tf.randomNormal([2, 8, 8, 4]) as tf.Tensor4D;
const w = tf.variable(tf.randomNormal([3, 3, 4, 4]));
try {
  const g = tf.variableGrads(() => tf.sum(conv2d(x, w as any)) as tf.Scalar);
  console.log('ok', g.value.dataSync());
} catch (e) { console.log('ERR', (e as Error).message); }
