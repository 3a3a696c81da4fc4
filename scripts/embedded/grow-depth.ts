// Deepens a trained Show-o without changing what it computes: new decoder layers are inserted with their output
// projections (attention `dense` and MLP `fc2`, weights and biases) at zero, so each new Phi block adds nothing to
// the residual stream until training moves those projections. The other parameters of a new layer are freshly
// initialised (seeded); every old parameter is copied. Checks that the grown model's logits equal the original's.
//
//   node --import tsx scripts/embedded/grow-depth.ts --model runs/soup6 --out runs/grown6 --after 1,3 [--seed 7]
//   (--after lists old layer indices; a new layer follows each, so 4 layers with --after 1,3 become 6)
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createAttentionMaskPredictNext } from '@showo/omni-attention';
import { initBackend, SeededRandom } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { maskTokenIds } from '@showo/trainer';
import { arg, log } from './common.js';
import { embeddedSetup } from './showo-common.js';

const LAYER = /^(.*\.layers\.)(\d+)(\..*)$/;
const ZERO_AT_START = ['.self_attn.dense.weight', '.self_attn.dense.bias', '.mlp.fc2.weight', '.mlp.fc2.bias'];

async function main(): Promise<void> {
  await initBackend('wasm');
  const source = await ShowoModel.load(path.resolve(arg('model', 'runs/soup6')));
  const after = arg('after', '1,3').split(',').map(Number);
  const oldLayers = source.config.num_hidden_layers;
  if (after.some((i) => !(Number.isInteger(i) && i >= 0 && i < oldLayers))) throw new Error(`--after needs layer indices in 0…${oldLayers - 1}`);
  // newIndex[old layer] in the grown stack; new layers fill the gaps.
  const newIndex: number[] = [];
  const fresh: number[] = [];
  let next = 0;
  for (let i = 0; i < oldLayers; i++) {
    newIndex.push(next++);
    for (const a of after) if (a === i) fresh.push(next++);
  }
  const config = { ...source.config, num_hidden_layers: next };
  const grown = ShowoModel.random(config, Number(arg('seed', '7')));
  const src = source.namedVariables();
  for (const [name, v] of grown.namedVariables()) {
    const m = LAYER.exec(name);
    if (!m) {
      v.assign(src.get(name)!);
      continue;
    }
    const layer = Number(m[2]);
    const old = newIndex.indexOf(layer);
    if (old >= 0) v.assign(src.get(`${m[1]}${old}${m[3]}`)!);
    else if (ZERO_AT_START.some((s) => name.endsWith(s))) tf.tidy(() => v.assign(tf.zerosLike(v)));
  }
  // Same logits on a batch of random sequences under the t2i attention rule.
  const setup = embeddedSetup();
  const rng = new SeededRandom(3);
  const imageIds = Array.from({ length: 2 }, () => Array.from({ length: setup.prompting.numVqTokens }, () => setup.layout.codeToId(Math.floor(rng.next() * setup.layout.codebookSize))));
  const p = setup.prompting.t2i({ texts: ['a large red circle', 'a blue square left of a green triangle'], imageIds, labels: imageIds.map((r) => r.map(() => -100)), condDropoutProb: 0 });
  const ids = p.inputIds.map((r) => Array.from(r));
  const T = ids[0]!.length;
  const allow = createAttentionMaskPredictNext(ids, maskTokenIds(setup.prompting), { rmPadInImage: true });
  const diff = tf.tidy(() => {
    const x = tf.tensor2d(ids.flat(), [2, T], 'int32');
    return tf.max(tf.abs(tf.sub(source.forward(x, allow), grown.forward(x, allow)))).dataSync()[0]!;
  });
  if (!(diff < 1e-4)) throw new Error(`grown model differs from the original by ${diff}`);
  const out = path.resolve(arg('out', 'runs/grown'));
  await grown.save(out);
  log(`${oldLayers} → ${next} layers (new: ${fresh.join(', ')}); max |Δ logits| ${diff.toExponential(2)}; saved ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
