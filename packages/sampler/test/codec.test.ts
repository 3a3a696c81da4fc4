import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MagvitTokenizer, createMagvitConfig } from '@showo/tokenizer-magvit';
import { imageResult, inpaint, magvitCodec, type RgbImage } from '@showo/sampler';
import { tinySetup } from './tiny.js';

test('magvitCodec: pixel images in, decoded images out, through a real MAGVIT tokenizer, without leaks', async () => {
  const t = await tinySetup();
  // 8×8 RGB → 4×4 codes of 4 bits: the tiny model's grid and codebook.
  const tokenizer = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 2], numResBlocks: 1, resolution: 8, codebookDim: 4 }), { seed: 3 });
  const codec = magvitCodec(tokenizer);
  assert.equal(codec.patchSize, 2);
  const before = tf.memory().numTensors;
  const image: RgbImage = { width: 8, height: 8, data: Uint8Array.from({ length: 192 }, (_, i) => (i * 37) % 256) };
  const codes = (await codec.encode([image]))[0]!;
  assert.equal(codes.length, 16);
  const mask = { width: 8, height: 8, data: Uint8Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 1 : 0)) }; // left half
  const r = await imageResult(inpaint({ model: t.model, prompting: t.prompting, codec }, { prompts: [[4, 5]], images: [{ image }], masks: [mask], steps: 3, seed: 1 }));
  for (let i = 0; i < 16; i++) if (i % 4 >= 2) assert.equal(r!.codes[0]![i], codes[i], `right-half token ${i} kept`);
  assert.equal(r!.images![0]!.width, 8);
  assert.equal(r!.images![0]!.data.length, 192);
  assert.equal(tf.memory().numTensors, before);
  tokenizer.dispose();
  t.dispose();
});
