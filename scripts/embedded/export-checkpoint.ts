// Exports a trainer checkpoint of the embedded Show-o (runs/showo/stageN/checkpoints/step-…) as a model folder
// (config.json + model.safetensors, official names) that eval-showo.ts and ShowoModel.load read.
//   node --import tsx scripts/embedded/export-checkpoint.ts --checkpoint runs/showo/stage3/checkpoints/step-00000100 --out runs/showo/export
//   (--checkpoint latest:stage3 picks the newest checkpoint of that stage; --averaged exports the run's weight average;
//   --image-positions for a model with image row / column embeddings; --codebook N for a tokenizer of N codes, 256 by
//   default, e.g. 2048 for a run on 11-bit patch codes)
import path from 'node:path';
import { initBackend } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { findLatestCheckpoint, loadCheckpointWeights } from '@showo/trainer';
import { arg, flag, log } from './common.js';
import { embeddedSetup, embeddedShowoConfig } from './showo-common.js';

async function main(): Promise<void> {
  await initBackend('wasm');
  let ckpt = arg('checkpoint', 'latest:stage3');
  if (ckpt.startsWith('latest:')) ckpt = findLatestCheckpoint(path.resolve(arg('dir', 'runs/showo'), ckpt.slice(7), 'checkpoints'))!;
  const dims = { hidden: Number(arg('hidden', '128')), layers: Number(arg('layers', '4')), heads: Number(arg('heads', '4')) };
  const model = ShowoModel.random(embeddedShowoConfig(embeddedSetup(Number(arg('codebook', '256'))).layout, dims), 0);
  if (flag('image-positions')) model.addImagePositionEmbedding();
  loadCheckpointWeights(ckpt, model.namedVariables(), { averaged: flag('averaged') });
  const out = path.resolve(arg('out', 'runs/showo/export'));
  await model.save(out);
  log(`exported ${ckpt} → ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
