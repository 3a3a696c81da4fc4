// The successor model folder committed beside the default one (models/shapes-world-next, see TRAINING.md): it must
// stay a complete bundle that `--model` accepts, and its tokenizer must keep what the gate measures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { defaultModelDir, loadModelBundle } from '@showo/showo';
import { SeededRandom } from '@showo/runtime';
import { detectObjects, randomScene, renderScene, type Scene } from '@showo/shapes-world';
import { backend } from './helpers.js';

const NEXT = path.join(path.dirname(defaultModelDir()), 'shapes-world-next');

test('models/shapes-world-next is a complete bundle whose tokenizer keeps held-out compositions', async () => {
  await backend();
  const before = tf.memory().numTensors;
  const loaded = await loadModelBundle(NEXT);
  try {
    const { bundle, magvit, model } = loaded;
    assert.equal(bundle.layout, 'embedded');
    assert.deepEqual(bundle.grid, { height: 16, width: 16 });
    assert.equal(bundle.imageSize, 64);
    assert.equal(magvit.codebookSize, model.config.codebook_size, 'the Show-o reads the codes its tokenizer writes');
    // A held-out composition (never in any training image), then random scenes where they are allowed, as the gate.
    const rng = new SeededRandom(2026);
    const scenes: Scene[] = [
      { objects: [{ shape: 'triangle', color: 'purple', size: 'large', cx: 32, cy: 30 }] },
      ...Array.from({ length: 15 }, () => randomScene(rng, { allowHeldOut: true })),
    ];
    const images = scenes.map((s) => renderScene(s));
    const x = tf.tidy(() => tf.tensor4d(Float32Array.from(images.flatMap((img) => Array.from(img, (v) => v / 127.5 - 1))), [scenes.length, 64, 64, 3]));
    const codes = magvit.encodeToCodes(x);
    const y = magvit.decodeCodes(codes);
    const decoded = await y.data();
    tf.dispose([x, codes, y]);
    const key = (img: ArrayLike<number>) =>
      detectObjects(img)
        .map((o) => `${o.shape}/${o.color}`)
        .sort()
        .join(' ');
    const kept = scenes.map((_, i) => {
      const back = Uint8Array.from(decoded.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3), (v) => Math.round(Math.min(1, Math.max(-1, v)) * 127.5 + 127.5));
      return key(back) === key(images[i]!);
    });
    assert.ok(kept[0], 'a purple triangle stays a purple triangle');
    // The gate on 450 scenes is 0.991, on 1 650 scenes 0.993 (TRAINING.md); 14 of 16 leaves room for chance, not for a broken tokenizer.
    assert.ok(kept.filter(Boolean).length >= 14, `objects kept in ${kept.filter(Boolean).length} of 16 scenes`);
  } finally {
    loaded.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});
