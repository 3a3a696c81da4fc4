// Joins two halves of a tokenizer trained apart on the same codes (train-tokenizer.ts --code-targets with
// --train encoder and --train decoder): the encoder of one file, the decoder of the other, in one saveMagvit file.
//
//   node --import tsx scripts/embedded/merge-tokenizer.ts --encoder runs/tok-pc-enc/best.safetensors \
//     --decoder runs/tok-pc-dec/best.safetensors --out runs/tok-pc.safetensors
import path from 'node:path';
import { initBackend } from '@showo/runtime';
import { MagvitTokenizer, loadMagvit, saveMagvit } from '@showo/tokenizer-magvit';
import { arg, log } from './common.js';

await initBackend('wasm');
const encoder = loadMagvit(path.resolve(arg('encoder', '')));
const decoder = loadMagvit(path.resolve(arg('decoder', '')));
if (encoder.config.codebookDim !== decoder.config.codebookDim) throw new Error(`code widths differ: ${encoder.config.codebookDim} vs ${decoder.config.codebookDim} bits`);
// The two halves may differ in shape: the merged config takes each file's own section.
const merged = MagvitTokenizer.create({ ...decoder.config, encoder: encoder.config.encoder });
let copied = 0;
for (const [name, v] of merged.namedVariables()) {
  const src = (name.startsWith('decoder.') ? decoder : encoder).namedVariables().get(name)!;
  v.assign(src);
  if (!name.startsWith('decoder.')) copied++;
}
const out = path.resolve(arg('out', 'runs/tok-merged.safetensors'));
saveMagvit(merged, out, { encoder: arg('encoder', ''), decoder: arg('decoder', '') });
log(`${copied} encoder tensors from ${arg('encoder', '')} + the decoder of ${arg('decoder', '')} → ${out}`);
