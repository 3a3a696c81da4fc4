// How much do a Show-o's image logits move when one word of the caption changes? All image tokens are masked (the
// first MaskGIT step), and the logits of the codebook at the N image positions are compared between two captions
// that differ in one word. A word the model cannot see moves nothing (0 exactly); a word it reads but has not learnt
// moves little; colour and position words, which it has learnt, move the logits by several nats. The sixth and
// eleventh sessions' probes found the shape word worth ~0 nats; this tells "unseen" (a masking or prompt bug) from
// "unlearnt".
//
//   node --import tsx scripts/embedded/caption-sensitivity.ts [--model models/shapes-world-next/showo]
//        [--pairs "a red circle|a red square;a red circle|a blue circle"]
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createAttentionMaskPredictNext } from '@showo/omni-attention';
import { initBackend } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { maskTokenIds } from '@showo/trainer';
import { arg, log } from './common.js';
import { embeddedSetup } from './showo-common.js';

const DEFAULT_PAIRS = [
  'a red circle|a red square',
  'a red circle|a blue circle',
  'a large red circle|a small red circle',
  'a red circle on the left|a red circle on the right',
  'a red circle on the left|a red square on the left',
  'a red circle on the left|a blue circle on the left',
].join(';');

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'));
  const model = await ShowoModel.load(path.resolve(arg('model', 'models/shapes-world-next/showo')));
  const setup = embeddedSetup(model.config.codebook_size);
  const N = setup.prompting.numVqTokens;
  const layout = setup.layout;
  const ids = maskTokenIds(setup.prompting);

  /** Codebook logits [N·K] at the image positions, every image token masked. */
  function imageLogits(text: string): Float32Array {
    const p = setup.prompting.t2i({ texts: [text], imageIds: [Array(N).fill(layout.maskId)], labels: [Array(N).fill(-100)], condDropoutProb: 0 });
    const T = p.inputIds[0]!.length;
    const allow = createAttentionMaskPredictNext(p.inputIds, ids, { rmPadInImage: true });
    return tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(Array.from(p.inputIds[0]!), [1, T], 'int32'), allow);
      return logits.slice([0, T - N - 1, layout.imageOffset], [1, N, layout.codebookSize]).dataSync() as Float32Array;
    });
  }

  console.log('| caption a | caption b | max |Δ logit| | mean |Δ logit| |\n|---|---|---:|---:|');
  for (const pair of arg('pairs', DEFAULT_PAIRS).split(';')) {
    const [a, b] = pair.split('|');
    if (!a || !b) throw new Error(`a pair is "caption a|caption b", got "${pair}"`);
    const x = imageLogits(a);
    const y = imageLogits(b);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i]! - y[i]!);
      max = Math.max(max, d);
      sum += d;
    }
    console.log(`| ${a} | ${b} | ${max.toFixed(3)} | ${(sum / x.length).toFixed(4)} |`);
  }
  log(`tensors left: ${tf.memory().numTensors}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
