import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, MagvitTokenizer, magvitLossAndGrads } from '../src/index.js';
await initBackend('wasm');
const cfg = createMagvitConfig({ ch: 16, normGroups: 8, chMult: [1, 2, 4], numResBlocks: 1, resolution: 64, codebookDim: 8 });
const m = MagvitTokenizer.create(cfg, { seed: 1 });
const x = tf.randomUniform([16, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
tf.tidy(() => m.encodeToCodes(x).dataSync());
const show = (prof: tf.ProfileInfo, label: string) => {
  const agg = new Map<string, [number, number]>();
  for (const k of prof.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs as number; a[1]++; agg.set(k.name, a); }
  const tot = [...agg.values()].reduce((s, a) => s + a[0], 0);
  console.log(label, 'total kernel ms', tot.toFixed(0), [...agg.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 12).map(([k, [t, n]]) => `${k}:${t.toFixed(0)}/${n}`).join(' '));
};
let t0 = Date.now();
show(await tf.profile(() => { tf.tidy(() => m.encodeToCodes(x).dataSync()); }), 'encode');
console.log('wall', Date.now() - t0);
t0 = Date.now();
show(await tf.profile(() => { const r = magvitLossAndGrads(m, x); tf.dispose(r.grads); }), 'step');
console.log('wall', Date.now() - t0);
// big convs in isolation
const a = tf.randomNormal([16, 64, 64, 16]) as tf.Tensor4D, w = tf.randomNormal([3, 3, 16, 16]) as tf.Tensor4D;
tf.conv2d(a, w, 1, 'same').dispose();
t0 = performance.now(); for (let i = 0; i < 5; i++) tf.conv2d(a, w, 1, 'same').dataSync(); console.log('conv 16x64x64x16 3x3', ((performance.now() - t0) / 5).toFixed(1), 'ms');
t0 = performance.now(); for (let i = 0; i < 5; i++) tf.conv2d(a, w, 1, [[0,0],[1,1],[1,1],[0,0]]).dataSync(); console.log('conv explicit pad', ((performance.now() - t0) / 5).toFixed(1), 'ms');
t0 = performance.now(); for (let i = 0; i < 5; i++) tf.tidy(() => tf.add(a, 1).dataSync()); console.log('add', ((performance.now() - t0) / 5).toFixed(1), 'ms');
