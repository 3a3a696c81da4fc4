import * as tf from '@tensorflow/tfjs';
import { initBackend, multiHeadAttention } from '@showo/runtime';
await initBackend('auto', { log: () => {} });
let bad = 0;
for (const [b, lk, h, d] of [[1, 305, 8, 32], [2, 40, 4, 16], [3, 7, 2, 8], [1, 1, 8, 32], [2, 300, 8, 32]]) {
  const q = tf.randomNormal([b, 1, h * d], 0, 2, 'float32', 1) as tf.Tensor3D;
  const k = tf.randomNormal([b, lk, h * d], 0, 2, 'float32', 2) as tf.Tensor3D;
  const v = tf.randomNormal([b, lk, h * d], 0, 1, 'float32', 3) as tf.Tensor3D;
  const allow = tf.randomUniform([b, 1, lk], 0, 1, 'float32', 4).greater(0.3);
  const bias = tf.mul(tf.sub(tf.cast(allow, 'float32'), 1), 1e9) as tf.Tensor3D;
  const fast = multiHeadAttention(q, k, v, bias, h).dataSync();
  // per-head path: pad q with a dummy second query then take row 0
  const q2 = tf.concat([q, q], 1) as tf.Tensor3D;
  const bias2 = tf.concat([bias, bias], 1) as tf.Tensor3D;
  const slow = multiHeadAttention(q2, k, v, bias2, h).slice([0, 0, 0], [b, 1, h * d]).dataSync();
  let diff = 0, maxd = 0;
  for (let i = 0; i < fast.length; i++) if (fast[i] !== slow[i]) { diff++; maxd = Math.max(maxd, Math.abs(fast[i] - slow[i])); }
  console.log(b, lk, h, d, 'differing', diff, 'of', fast.length, 'max', maxd);
  bad += diff;
}
console.log(bad === 0 ? 'EXACT' : 'NOT EXACT');
