// How much of a tokenizer's code is noise from the patch's surroundings? Encodes --n fresh scenes and measures the
// entropy of the code given the exact pixels of its own 4×4 patch, H(code | patch), overall, on uniform patches
// (background or one colour) and on patches with an edge; and how many codes a plain white patch gets. A generator
// drawing codes must predict that noise too. A patch codebook (make-patch-codebook.ts) has 0 by construction.
//
//   node --import tsx scripts/embedded/code-entropy.ts [--weights models/shapes-world/magvit/model.safetensors] [--n 600] [--seed 99]
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, renderScene } from '@showo/shapes-world';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { arg, log, scenesToTensor } from './common.js';

await initBackend(arg('backend', 'wasm'));
const weights = path.resolve(arg('weights', 'models/shapes-world/magvit/model.safetensors'));
const model = loadMagvit(weights);
const rng = new SeededRandom(Number(arg('seed', '99')));
const scenes = Array.from({ length: Number(arg('n', '600')) }, () => randomScene(rng, { allowHeldOut: true }));
const P = model.downsampleFactor;
const G = 64 / P;
/** patch pixels (as a string key) → code → count */
const byPatch = new Map<string, Map<number, number>>();
for (let i = 0; i < scenes.length; i += 50) {
  const part = scenes.slice(i, i + 50);
  const x = scenesToTensor(part);
  const codes = model.encodeToCodes(x);
  const flat = codes.dataSync();
  tf.dispose([x, codes]);
  part.forEach((s, k) => {
    const img = renderScene(s);
    for (let p = 0; p < G * G; p++) {
      const py = Math.floor(p / G);
      const px = p % G;
      const pixels: number[] = [];
      for (let y = 0; y < P; y++) for (let xx = 0; xx < P; xx++) for (let c = 0; c < 3; c++) pixels.push(img[((py * P + y) * 64 + px * P + xx) * 3 + c]!);
      const key = pixels.join(',');
      const m = byPatch.get(key) ?? new Map<number, number>();
      byPatch.set(key, m);
      const code = flat[k * G * G + p]!;
      m.set(code, (m.get(code) ?? 0) + 1);
    }
  });
}
const sums = { all: [0, 0], uniform: [0, 0], edge: [0, 0] };
let whiteCodes = 0;
for (const [key, m] of byPatch) {
  const n = [...m.values()].reduce((a, b) => a + b, 0);
  let h = 0;
  for (const v of m.values()) h -= v * Math.log(v / n);
  const px = key.split(',');
  const uniform = px.every((v, i) => v === px[i % 3]);
  for (const k of ['all', uniform ? 'uniform' : 'edge'] as const) {
    sums[k][0] += h;
    sums[k][1] += n;
  }
  if (uniform && px[0] === '255' && px[1] === '255' && px[2] === '255') whiteCodes = m.size;
}
log(`${weights}: ${byPatch.size} distinct patch contents in ${scenes.length} scenes`);
log(`H(code | own patch): all ${(sums.all[0] / sums.all[1]).toFixed(3)} nats, uniform patches ${(sums.uniform[0] / sums.uniform[1]).toFixed(3)} (${((100 * sums.uniform[1]) / sums.all[1]).toFixed(1)} % of patches), edge patches ${(sums.edge[0] / Math.max(1, sums.edge[1])).toFixed(3)}; a white patch gets ${whiteCodes} different codes`);
