// Draws MaskGIT trajectories of an embedded Show-o: one row per prompt, one column per denoising step, each frame
// the tokens decided so far decoded by the tokenizer (still-masked 4×4-pixel cells grey). Shows *how* generation
// fails when it does: e.g. background committed from the edges inwards until the last step fills the centre too.
//
//   node --import tsx scripts/embedded/trajectory.ts [--model models/shapes-world/showo]
//        [--magvit models/shapes-world/magvit/model.safetensors] [--prompts "a large red circle|a small blue square"]
//        [--steps 12] [--guidance 2] [--temperature 1] [--seed 3] [--out out/trajectory.png]
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { initBackend } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { magvitCodec, textToImage, type ImageStepEvent } from '@showo/sampler';
import { arg, log, scenesToTensor, tensorToBytes } from './common.js';
import { embeddedSetup } from './showo-common.js';

const CELL = 66; // a 64×64 frame and a 1-pixel white border

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'));
  const model = await ShowoModel.load(path.resolve(arg('model', 'models/shapes-world/showo')));
  const magvit = loadMagvit(path.resolve(arg('magvit', 'models/shapes-world/magvit/model.safetensors')));
  const setup = embeddedSetup();
  const prompts = arg('prompts', 'a large red circle|a large blue square|a small green triangle|a yellow circle on the left').split('|');
  const frames: Int32Array[][] = [];
  const stream = textToImage(
    { model, prompting: setup.prompting, codec: magvitCodec(magvit) },
    { prompts, steps: Number(arg('steps', '12')), guidanceScale: Number(arg('guidance', '2')), temperature: Number(arg('temperature', '1')), seed: Number(arg('seed', '3')) },
  );
  await new Promise<void>((resolve, reject) =>
    stream.subscribe({
      next: (e) => {
        if (e.type === 'step') frames.push((e as ImageStepEvent).tokens.map((t) => Int32Array.from(t)));
      },
      error: reject,
      complete: resolve,
    }),
  );
  // Masked cells are decoded as the code of a blank canvas, then painted grey.
  const blank = tf.tidy(() => magvit.encodeToCodes(scenesToTensor([{ objects: [] }])).dataSync()[0]);
  const side = Math.sqrt(frames[0][0].length);
  const patch = 64 / side;
  const W = CELL * frames.length;
  const png = new PNG({ width: W, height: CELL * prompts.length });
  png.data.fill(255);
  frames.forEach((rows, s) =>
    rows.forEach((tokens, b) => {
      const codes = Array.from(tokens, (c) => (c < 0 ? blank : c));
      const decoded = tf.tidy(() => magvit.decodeCodes(tf.tensor2d([codes], [1, codes.length], 'int32')));
      const rgb = tensorToBytes(decoded)[0];
      decoded.dispose();
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++) {
          const masked = tokens[Math.floor(y / patch) * side + Math.floor(x / patch)] < 0;
          const o = ((CELL * b + y + 1) * W + CELL * s + x + 1) * 4;
          for (let c = 0; c < 3; c++) png.data[o + c] = masked ? 150 : rgb[(y * 64 + x) * 3 + c];
        }
    }),
  );
  const out = path.resolve(arg('out', 'out/trajectory.png'));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, PNG.sync.write(png));
  log(`${prompts.length} prompts × ${frames.length} steps → ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
