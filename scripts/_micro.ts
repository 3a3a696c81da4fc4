import * as tf from '@tensorflow/tfjs';
import { initBackend, linear, layerNorm } from '@showo/runtime';
await initBackend('auto', { log: () => {} });
const x = tf.randomNormal([1, 1, 256]); const w = tf.variable(tf.randomNormal([256, 256])) as tf.Variable<tf.Rank.R2>; const b = tf.variable(tf.zeros([256])) as tf.Variable<tf.Rank.R1>;
const g = tf.ones([256]) as tf.Tensor1D; const be = tf.zeros([256]) as tf.Tensor1D;
function bench(name: string, f: () => void, n = 2000) {
  for (let i = 0; i < 200; i++) tf.tidy(f);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) tf.tidy(f);
  const c = process.cpuUsage(c0);
  console.log(name.padEnd(30), ((c.user + c.system) / n).toFixed(1), 'µs cpu');
}
bench('linear (customOp)', () => { linear(x, w, b); });
bench('plain reshape+matMul+add+reshape', () => { tf.add(tf.matMul(x.reshape([1, 256]), w), b).reshape([1, 1, 256]); });
bench('matMul only', () => { tf.matMul(x.reshape([1, 256]), w); });
bench('add only', () => { tf.add(x, x); });
bench('reshape only', () => { x.reshape([1, 256]); });
bench('layerNorm (customOp)', () => { layerNorm(x, g, be); });
bench('plain layernorm ops', () => { const m = tf.mean(x, -1, true); const xc = tf.sub(x, m); const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-5)); tf.add(tf.mul(tf.mul(xc, r), g), be); });
bench('tidy empty', () => {});
bench('tensor2d int', () => { tf.tensor2d(Int32Array.from([5]), [1, 1], 'int32'); });
