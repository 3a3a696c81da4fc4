import * as tf from '@tensorflow/tfjs';
import { initBackend, conv2d, groupNorm, silu, upsampleNearest2x, multiHeadAttention, linear } from '@showo/runtime';
await initBackend('wasm');
const x = tf.randomNormal([16, 32, 32, 32]) as tf.Tensor4D;
const w = tf.variable(tf.randomNormal([3, 3, 32, 32], 0, 0.1)) as unknown as tf.Tensor4D;
const g = tf.variable(tf.ones([32])) as unknown as tf.Tensor1D, b = tf.variable(tf.zeros([32])) as unknown as tf.Tensor1D;
const w1 = tf.variable(tf.randomNormal([32, 32], 0, 0.1)) as unknown as tf.Tensor2D;
const cases: Record<string, () => tf.Scalar> = {
  conv_same: () => tf.sum(conv2d(x, w, b)),
  conv_down: () => tf.sum(conv2d(x, w, b, 2, [[0, 1], [0, 1]])),
  groupNorm: () => tf.sum(tf.mul(groupNorm(x, 8, g, b, 1e-6), x)),
  silu: () => tf.sum(tf.mul(silu(tf.mul(x, g)), x)),
  upsample: () => tf.sum(tf.mul(upsampleNearest2x(tf.mul(x, g) as tf.Tensor4D), 2)),
  attn: () => { const f = tf.mul(x, g).reshape([16, 1024, 32]) as tf.Tensor3D; const s = x.slice([0,0,0,0],[16,16,16,32]).reshape([16,256,32]) as tf.Tensor3D; const q = linear(s, w1) as tf.Tensor3D; return tf.sum(multiHeadAttention(q, q, q, tf.zeros([16, 256, 256]) as tf.Tensor3D, 1)); },
};
for (const [name, f] of Object.entries(cases)) {
  const vars = [w, g, b, w1] as unknown as tf.Variable[];
  const run = () => { const r = tf.variableGrads(f, vars.filter(v => true)); r.value.dataSync(); tf.dispose([r.value, ...Object.values(r.grads)]); };
  try { run(); } catch (e) { console.log(name, 'ERR', (e as Error).message); continue; }
  const prof = await tf.profile(run);
  const agg = new Map<string, [number, number]>();
  for (const k of prof.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs as number; a[1]++; agg.set(k.name, a); }
  console.log(name, [...agg.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 6).map(([k, [t, n]]) => `${k}:${t.toFixed(0)}/${n}`).join(' '));
}
