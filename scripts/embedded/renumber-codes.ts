// Moves a Show-o trained on one patch codebook's codes onto another codebook with the same masks and palette but
// other slot numbers (e.g. make-patch-codebook.ts --geometric, PatchCodebook.withGeometricSlots): an exact
// relabelling, not a transplant. Every image code's embedding row and output row (weight column and bias) move to
// the code that names the same picture in the new numbering; codes that no patch produces fill the remaining ids in
// order, so the map is a permutation. The script checks it: the renumbered model's logits on renumbered tokens are
// the old model's logits, renumbered.
//
//   node --import tsx scripts/embedded/renumber-codes.ts --model runs/showo17/raw --from runs/patch-codebook.json \
//     --to runs/patch-codebook-geo.json --out runs/showo17/geo
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import type { PatchCodebook } from '@showo/tokenizer-magvit';
import { arg, log } from './common.js';
import { loadPatchCodebook } from './patch-codes.js';
import { embeddedSetup } from './showo-common.js';

/** newCode[old] for every code of `from`: the same (colour, mask) in `to`, the unproduced codes in order. */
export function codeRenumbering(from: PatchCodebook, to: PatchCodebook): Int32Array {
  if (from.codebookSize !== to.codebookSize || from.maskBits !== to.maskBits || JSON.stringify(from.palette) !== JSON.stringify(to.palette)) {
    throw new Error('the two codebooks differ in size, mask bits or palette: renumbering needs the same codes');
  }
  const fromMasks = [...from.masks].filter((m) => m !== 0).sort((a, b) => a - b);
  const toMasks = [...to.masks].filter((m) => m !== 0).sort((a, b) => a - b);
  if (JSON.stringify(fromMasks) !== JSON.stringify(toMasks)) throw new Error('the two codebooks hold different masks');
  const K = from.codebookSize;
  const slots = 2 ** from.maskBits;
  const full = 2 ** (from.patch * from.patch) - 1;
  const map = new Int32Array(K).fill(-1);
  const taken = new Uint8Array(K);
  for (let c = 0; c < K; c++) {
    const colour = Math.floor(c / slots);
    const slot = c % slots;
    const mask = c === 0 ? 0 : slot === 0 ? full : slot <= from.masks.length ? from.masks[slot - 1]! : 0;
    if (colour >= from.palette.length || (c !== 0 && mask === 0) || (colour === 0 && c !== 0)) continue; // not produced
    const target = to.code(colour, mask);
    map[c] = target;
    taken[target] = 1;
  }
  let next = 0;
  for (let c = 0; c < K; c++) {
    if (map[c] !== -1) continue;
    while (taken[next]) next++;
    map[c] = next;
    taken[next] = 1;
  }
  return map;
}

async function main(): Promise<void> {
  await initBackend('wasm');
  const src = path.resolve(arg('model', ''));
  const out = path.resolve(arg('out', ''));
  const from = loadPatchCodebook(path.resolve(arg('from', '')));
  const to = loadPatchCodebook(path.resolve(arg('to', '')));
  const map = codeRenumbering(from, to);
  const model = await ShowoModel.load(src);
  const K = from.codebookSize;
  const { layout } = embeddedSetup(K);
  const off = layout.imageOffset;
  const V = model.config.vocab_size;
  // perm[newId] = oldId over the whole vocabulary (text, special tokens and [MASK] stay).
  const perm = Int32Array.from({ length: V }, (_, i) => i);
  for (let c = 0; c < K; c++) perm[off + map[c]!] = off + c;
  const idMap = (oldId: number) => (oldId >= off && oldId < off + K ? off + map[oldId - off]! : oldId);

  const ids = tf.tensor2d([Array.from({ length: 64 }, (_, i) => (i < 8 ? i : off + ((i * 97) % K)))], [1, 64], 'int32');
  const allow = tf.ones([1, 64, 64]);
  const before = model.forward(ids, allow);
  const vars = model.namedVariables();
  const permIdx = tf.tensor1d(perm, 'int32');
  const embed = vars.get('showo.model.embed_tokens.weight')!;
  embed.assign(tf.gather(embed, permIdx, 0));
  const headW = vars.get('showo.lm_head.weight')!;
  headW.assign(tf.gather(headW, permIdx, 1));
  const headB = vars.get('showo.lm_head.bias');
  if (headB) headB.assign(tf.gather(headB, permIdx, 0));

  const ids2 = tf.tensor2d([Array.from(ids.dataSync(), idMap)], [1, 64], 'int32');
  const after = model.forward(ids2, allow);
  // Column idMap(i) of the new logits is column i of the old ones.
  const newColumns = tf.tensor1d(Array.from({ length: V }, (_, i) => idMap(i)), 'int32');
  const diff = tf.max(tf.abs(tf.sub(tf.gather(after, newColumns, 2), before))).dataSync()[0]!;
  if (diff > 1e-4) throw new Error(`renumbering check failed: logits differ by ${diff}`);
  fs.mkdirSync(out, { recursive: true });
  await model.save(out);
  // Copy what the saver does not write (a word vocabulary, generation settings) when present.
  for (const f of fs.readdirSync(src)) if (!fs.existsSync(path.join(out, f))) fs.copyFileSync(path.join(src, f), path.join(out, f));
  log(`renumbered ${src} → ${out}: ${K} codes, logits check max |Δ| ${diff.toExponential(2)}`);
  tf.dispose([ids, ids2, allow, before, after, permIdx, newColumns]);
  model.dispose();
}

if (process.argv[1]?.endsWith('renumber-codes.ts')) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
