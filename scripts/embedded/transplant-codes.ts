// Moves a trained Show-o onto a new image tokenizer without starting over.
//
// A new tokenizer gives the same patches different codes, so the rows of the token embedding and of the output
// head that belong to image codes lose their meaning; everything else (text, attention, how images are read) still
// holds. This encodes a few hundred scenes with both tokenizers and sets each new code's embedding row and output
// row (weight column and bias) to the average of the old codes it co-occurs with at the same grid positions,
// weighted by how often. New codes never seen keep the average of all image rows. Training then continues from a
// model that already reads and writes images roughly right.
//
//   node --import tsx scripts/embedded/transplant-codes.ts --model models/shapes-world/showo \
//     --old models/shapes-world/magvit/model.safetensors --new runs/tok-local/latest.safetensors --out runs/transplant [--n 512]
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, sampleHowto, type Scene } from '@showo/shapes-world';
import { ShowoModel } from '@showo/showo-core';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { arg, log, scenesToTensor } from './common.js';
import { embeddedSetup } from './showo-common.js';

async function main(): Promise<void> {
  await initBackend('wasm');
  const src = path.resolve(arg('model', 'models/shapes-world/showo'));
  const out = path.resolve(arg('out', 'runs/transplant'));
  const oldTok = loadMagvit(path.resolve(arg('old', 'models/shapes-world/magvit/model.safetensors')));
  const newTok = loadMagvit(path.resolve(arg('new', '')));
  const n = Number(arg('n', '512'));
  const K = oldTok.codebookSize;
  if (newTok.codebookSize !== K) throw new Error(`codebook sizes differ (${K} vs ${newTok.codebookSize}): the Show-o vocabulary would change`);
  const model = await ShowoModel.load(src);
  const { layout } = embeddedSetup();
  const off = layout.imageOffset;

  // Co-occurrence counts: cooc[new][old].
  const cooc = new Float64Array(K * K);
  const rng = new SeededRandom(Number(arg('seed', '31')));
  const scenes: Scene[] = Array.from({ length: n }, (_, i) => (i % 5 === 4 ? sampleHowto(rng).steps[0]!.scene : randomScene(rng, { allowHeldOut: false })));
  for (let i = 0; i < n; i += 32) {
    const x = scenesToTensor(scenes.slice(i, i + 32));
    const a = oldTok.encodeToCodes(x);
    const b = newTok.encodeToCodes(x);
    const av = a.dataSync();
    const bv = b.dataSync();
    for (let j = 0; j < av.length; j++) cooc[bv[j]! * K + av[j]!]++;
    tf.dispose([x, a, b]);
  }

  const vars = model.namedVariables();
  const embed = vars.get('showo.model.embed_tokens.weight')!; // [V, H]
  const headW = vars.get('showo.lm_head.weight')!; // [H, V]
  const headB = vars.get('showo.lm_head.bias'); // [V]
  const H = embed.shape[1]!;
  const V = embed.shape[0]!;
  const E = embed.arraySync() as number[][];
  const W = headW.arraySync() as number[][];
  const Bv = headB ? (headB.arraySync() as number[]) : undefined;
  const meanOld = (get: (old: number) => number): number => {
    let s = 0;
    for (let c = 0; c < K; c++) s += get(c);
    return s / K;
  };
  const newE = E.map((r) => r.slice());
  const newW = W.map((r) => r.slice());
  const newB = Bv?.slice();
  let seen = 0;
  for (let c = 0; c < K; c++) {
    let total = 0;
    for (let o = 0; o < K; o++) total += cooc[c * K + o]!;
    if (total > 0) seen++;
    const avg = (get: (old: number) => number): number => {
      if (total === 0) return meanOld(get);
      let s = 0;
      for (let o = 0; o < K; o++) s += (cooc[c * K + o]! / total) * get(o);
      return s;
    };
    for (let h = 0; h < H; h++) {
      newE[off + c]![h] = avg((o) => E[off + o]![h]!);
      newW[h]![off + c] = avg((o) => W[h]![off + o]!);
    }
    if (newB && Bv) newB[off + c] = avg((o) => Bv[off + o]!);
  }
  embed.assign(tf.tensor2d(newE, [V, H]));
  headW.assign(tf.tensor2d(newW, [H, V]));
  if (headB && newB) headB.assign(tf.tensor1d(newB));
  fs.mkdirSync(out, { recursive: true });
  await model.save(out);
  log(`transplanted ${src} onto the new tokenizer: ${seen}/${K} new codes seen in ${n} scenes → ${out}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
