// Gate of a tokenizer file on train-tokenizer.ts's evaluation scenes, without training (step 0 of a run):
//   node --import tsx scripts/embedded/gate-baseline.ts --weights FILE [--seed 1] [--eval-n 128] [--code-noise SHOWO_DIR --noise-max 0.5]
import path from 'node:path';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, sampleT2i } from '@showo/shapes-world';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { ShowoCodeNoise, noisyGate } from './code-noise.js';
import { arg, log, tokenizerGate } from './common.js';

async function main(): Promise<void> {
  await initBackend('wasm');
  const model = loadMagvit(path.resolve(arg('weights', 'models/shapes-world/magvit/model.safetensors')));
  const seed = Number(arg('seed', '1'));
  const evalRng = new SeededRandom(seed + 7777);
  const scenes = Array.from({ length: Number(arg('eval-n', '128')) }, () => randomScene(evalRng, { allowHeldOut: true }));
  const g = tokenizerGate(model, scenes);
  let noisy = '';
  const showo = arg('code-noise', '');
  if (showo) {
    const noise = await ShowoCodeNoise.load(showo, model);
    const rng = new SeededRandom(seed + 999);
    const items = Array.from({ length: 96 }, () => sampleT2i(rng));
    noisy = ` noisy-codes agreement ${noisyGate(model, noise, items, Number(arg('noise-max', '0.5')) / 2).toFixed(3)}`;
  }
  log(`agreement ${g.agreement.toFixed(3)} psnr ${g.psnr.toFixed(2)}${noisy}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
