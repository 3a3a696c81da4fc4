// Draws reconstructions of held-out scenes by several tokenizers side by side: each row is one scene (the gate's
// fresh scenes, seed 424242, held-out compositions allowed), the original first, then one column per tokenizer, with
// a green bar under a reconstruction whose detected objects equal the original's and a red bar under one whose
// objects differ. Rows are the first scenes on which the tokenizers disagree, then the first others.
//
//   node --import tsx scripts/embedded/recon-sheet.ts --weights A.safetensors,B.safetensors [--rows 8] [--out out/recon.png]
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, renderScene, type Scene } from '@showo/shapes-world';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { writePngFile } from '@showo/showo';
import { arg, ImageSheet, log, objectKey, scenesToTensor, tensorToBytes } from './common.js';

async function main(): Promise<void> {
  await initBackend('wasm');
  const files = arg('weights', '').split(',').filter(Boolean);
  if (files.length === 0) throw new Error('--weights A.safetensors[,B.safetensors…] is required');
  const rows = Number(arg('rows', '8'));
  const out = path.resolve(arg('out', 'out/recon.png'));
  const rng = new SeededRandom(424242);
  const scenes: Scene[] = Array.from({ length: 120 }, () => randomScene(rng, { allowHeldOut: true }));
  const originals = scenes.map((s) => renderScene(s));
  // recon[t][i]: tokenizer t's reconstruction of scene i
  const recon = files.map((f) => {
    const tok = loadMagvit(path.resolve(f));
    const all: Uint8Array[] = [];
    for (let i = 0; i < scenes.length; i += 30) {
      const x = scenesToTensor(scenes.slice(i, i + 30));
      const codes = tok.encodeToCodes(x);
      const y = tok.decodeCodes(codes);
      all.push(...tensorToBytes(y));
      tf.dispose([x, codes, y]);
    }
    tok.dispose();
    return all;
  });
  const ok = recon.map((r) => r.map((img, i) => objectKey(img) === objectKey(originals[i]!)));
  const order = scenes.map((_, i) => i);
  const disagree = order.filter((i) => ok.some((o) => o[i] !== ok[0]![i]));
  const picked = [...disagree, ...order.filter((i) => !disagree.includes(i))].slice(0, rows);
  const sheet = new ImageSheet(files.length + 1, picked.length);
  picked.forEach((i, r) => {
    sheet.draw(originals[i]!, 0, r);
    recon.forEach((rc, t) => sheet.draw(rc[i]!, t + 1, r, ok[t]![i]));
  });
  writePngFile(out, sheet);
  files.forEach((f, t) => log(`${f}: objects kept in ${ok[t]!.filter(Boolean).length}/${scenes.length} of these scenes`));
  log(`${picked.length} rows (${disagree.length} scenes where the tokenizers disagree) → ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
