// Grows a trained Show-o without changing what it computes, saves it, and checks that its logits equal the
// original's on t2i prompts:
// - deeper (`ShowoModel.insertLayers`: new decoder layers whose output projections start at zero), with --after;
// - image row / column embeddings (`ShowoModel.addImagePositionEmbedding`: zero tables), with --image-positions.
//
//   node --import tsx scripts/embedded/grow-depth.ts --model runs/soup6 --out runs/grown6 --after 1,3 [--seed 7]
//   (--after lists old layer indices; a new layer follows each, so 4 layers with --after 1,3 become 6)
//   node --import tsx scripts/embedded/grow-depth.ts --model models/shapes-world/showo --out runs/pos16 --image-positions
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createAttentionMaskPredictNext } from '@showo/omni-attention';
import { initBackend, SeededRandom } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { maskTokenIds } from '@showo/trainer';
import { arg, flag, log } from './common.js';
import { embeddedSetup } from './showo-common.js';

async function main(): Promise<void> {
  await initBackend('wasm');
  const dir = path.resolve(arg('model', 'runs/soup6'));
  const source = await ShowoModel.load(dir);
  const grown = await ShowoModel.load(dir);
  const imagePositions = flag('image-positions');
  const afterArg = arg('after', imagePositions ? '' : '1,3');
  const after = afterArg ? afterArg.split(',').map(Number) : [];
  grown.insertLayers(after, new SeededRandom(Number(arg('seed', '7'))));
  if (imagePositions) grown.addImagePositionEmbedding();
  const setup = embeddedSetup();
  const rng = new SeededRandom(3);
  const imageIds = Array.from({ length: 2 }, () => Array.from({ length: setup.prompting.numVqTokens }, () => setup.layout.codeToId(Math.floor(rng.next() * setup.layout.codebookSize))));
  const p = setup.prompting.t2i({ texts: ['a large red circle', 'a blue square left of a green triangle'], imageIds, labels: imageIds.map((r) => r.map(() => -100)), condDropoutProb: 0 });
  const ids = p.inputIds.map((r) => Array.from(r));
  const allow = createAttentionMaskPredictNext(ids, maskTokenIds(setup.prompting), { rmPadInImage: true });
  const diff = tf.tidy(() => {
    const x = tf.tensor2d(ids.flat(), [ids.length, ids[0]!.length], 'int32');
    return tf.max(tf.abs(tf.sub(source.forward(x, allow), grown.forward(x, allow)))).dataSync()[0]!;
  });
  if (!(diff < 1e-4)) throw new Error(`grown model differs from the original by ${diff}`);
  const out = path.resolve(arg('out', 'runs/grown'));
  await grown.save(out);
  log(`${source.config.num_hidden_layers} → ${grown.config.num_hidden_layers} layers${imagePositions ? ', image row / column embeddings' : ''}; max |Δ logits| ${diff.toExponential(2)}; saved ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
