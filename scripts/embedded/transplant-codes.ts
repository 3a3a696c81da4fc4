// Moves a trained Show-o onto a new image tokenizer without starting over.
//
// A new tokenizer gives the same patches different codes, so the rows of the token embedding and of the output
// head that belong to image codes lose their meaning; everything else (text, attention, how images are read) still
// holds. This encodes a few hundred scenes with both tokenizers and sets each new code's embedding row and output
// row (weight column and bias) to the average of the old codes it co-occurs with at the same grid positions,
// weighted by how often. New codes never seen keep the average of all image rows. Training then continues from a
// model that already reads and writes images roughly right.
//
// With --codes CODEBOOK.json the new codes are a patch codebook's exact codes (make-patch-codebook.ts); its codebook
// may be larger than the old one, and the vocabulary then grows (text, special tokens and [MASK] keep their rows).
//
//   node --import tsx scripts/embedded/transplant-codes.ts --model models/shapes-world/showo \
//     --old models/shapes-world/magvit/model.safetensors (--new runs/tok-local/latest.safetensors | --codes runs/patch-codebook.json) --out runs/transplant [--n 512]
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, renderScene, sampleHowto, type Scene } from '@showo/shapes-world';
import { ShowoModel } from '@showo/showo-core';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { arg, log, scenesToTensor } from './common.js';
import { loadPatchCodebook } from './patch-codes.js';
import { embeddedSetup, embeddedShowoConfig } from './showo-common.js';

async function main(): Promise<void> {
  await initBackend('wasm');
  const src = path.resolve(arg('model', 'models/shapes-world/showo'));
  const out = path.resolve(arg('out', 'runs/transplant'));
  const oldTok = loadMagvit(path.resolve(arg('old', 'models/shapes-world/magvit/model.safetensors')));
  const codebook = arg('codes', '') ? loadPatchCodebook(path.resolve(arg('codes', ''))) : undefined;
  const newTok = codebook ? undefined : loadMagvit(path.resolve(arg('new', '')));
  const n = Number(arg('n', '512'));
  const K = oldTok.codebookSize;
  const K2 = codebook ? codebook.codebookSize : newTok!.codebookSize;
  if (K2 < K) throw new Error(`the new codebook (${K2}) is smaller than the old one (${K})`);
  const old = await ShowoModel.load(src);
  const { layout } = embeddedSetup(K);
  const off = layout.imageOffset;
  // The same model over the new vocabulary: every parameter but the vocabulary's rows is copied as it is.
  const model = K2 === K ? old : ShowoModel.random(embeddedShowoConfig(embeddedSetup(K2).layout, { hidden: old.config.hidden_size, layers: old.config.num_hidden_layers, heads: old.config.num_attention_heads }), 0);
  const vocabNames = ['showo.model.embed_tokens.weight', 'showo.lm_head.weight', 'showo.lm_head.bias'];
  if (model !== old) for (const [name, v] of model.namedVariables()) if (!vocabNames.includes(name)) v.assign(old.namedVariables().get(name)!);

  // Co-occurrence counts: cooc[new][old].
  const cooc = new Float64Array(K2 * K);
  const rng = new SeededRandom(Number(arg('seed', '31')));
  const scenes: Scene[] = Array.from({ length: n }, (_, i) => (i % 5 === 4 ? sampleHowto(rng).steps[0]!.scene : randomScene(rng, { allowHeldOut: false })));
  for (let i = 0; i < n; i += 32) {
    const x = scenesToTensor(scenes.slice(i, i + 32));
    const a = oldTok.encodeToCodes(x);
    const av = a.dataSync();
    let bv: ArrayLike<number>;
    if (codebook) {
      const rows = scenes.slice(i, i + 32).map((s) => codebook.encode({ width: 64, height: 64, data: renderScene(s) }));
      bv = Int32Array.from(rows.flatMap((r) => Array.from(r)));
    } else {
      const b = newTok!.encodeToCodes(x);
      bv = b.dataSync();
      b.dispose();
    }
    for (let j = 0; j < av.length; j++) cooc[bv[j]! * K + av[j]!]++;
    tf.dispose([x, a]);
  }

  const oldVars = old.namedVariables();
  const E = oldVars.get('showo.model.embed_tokens.weight')!.arraySync() as number[][]; // [V, H]
  const W = oldVars.get('showo.lm_head.weight')!.arraySync() as number[][]; // [H, V]
  const Bv = oldVars.get('showo.lm_head.bias')?.arraySync() as number[] | undefined; // [V]
  const vars = model.namedVariables();
  const embed = vars.get('showo.model.embed_tokens.weight')!;
  const headW = vars.get('showo.lm_head.weight')!;
  const headB = vars.get('showo.lm_head.bias');
  const H = embed.shape[1]!;
  const V = embed.shape[0]!;
  const V0 = E.length;
  const meanOld = (get: (old: number) => number): number => {
    let s = 0;
    for (let c = 0; c < K; c++) s += get(c);
    return s / K;
  };
  // Rows below the image codes (text, special tokens) keep their ids; [MASK] is the last id in both vocabularies.
  const newE = Array.from({ length: V }, (_, i) => (i < off ? E[i]! : i === V - 1 ? E[V0 - 1]! : E[off]!).slice());
  const newW = W.map((r) => Array.from({ length: V }, (_, i) => (i < off ? r[i]! : i === V - 1 ? r[V0 - 1]! : 0)));
  const newB = Bv ? Array.from({ length: V }, (_, i) => (i < off ? Bv[i]! : i === V - 1 ? Bv[V0 - 1]! : 0)) : undefined;
  let seen = 0;
  for (let c = 0; c < K2; c++) {
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
    // A code the new tokenizer never produced here starts unlikely, so that sampling does not draw it.
    if (newB && Bv) newB[off + c] = avg((o) => Bv[off + o]!) - (total === 0 ? 8 : 0);
  }
  embed.assign(tf.tensor2d(newE, [V, H]));
  headW.assign(tf.tensor2d(newW, [H, V]));
  if (headB && newB) headB.assign(tf.tensor1d(newB));
  fs.mkdirSync(out, { recursive: true });
  await model.save(out);
  log(`transplanted ${src} onto the new codes: ${seen}/${K2} new codes seen in ${n} scenes, vocabulary ${V0} → ${V} → ${out}`);
  model.dispose();
  if (model !== old) old.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
