/**
 * The magvit-tiny fixtures of the official implementation (README "magvit-tiny"): codes exact, floats within 1e-4.
 * Skips when the fixtures are absent (fails under CI=true, see requireReferenceDir).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, readSafetensors, requireReferenceDir, type HostTensor } from '@showo/runtime';
import { lfqForward, loadMagvit, parseMagvitConfig, type MagvitTokenizer } from '@showo/tokenizer-magvit';

const ref = requireReferenceDir();
const dir = ref && path.join(ref, 'magvit-tiny');

function nhwc(t: HostTensor): tf.Tensor4D {
  return tf.tidy(() => tf.tensor4d(t.data as Float32Array, t.shape as [number, number, number, number]).transpose([0, 2, 3, 1]) as tf.Tensor4D);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('magvit-tiny conformance', { skip: ref ? false : 'reference fixtures not found' }, () => {
  let model: MagvitTokenizer;
  let io: Map<string, HostTensor>;
  let meta: { codes: number[][]; quantizer_forward: { quantizer_loss: number; entropy_loss: number } };
  const get = (k: string) => {
    const t = io.get(k);
    assert.ok(t, `io.safetensors lacks ${k}`);
    return t;
  };

  before(async () => {
    await initBackend('wasm');
    meta = JSON.parse(fs.readFileSync(path.join(dir!, 'magvit.json'), 'utf8'));
    io = readSafetensors(path.join(dir!, 'io.safetensors')).tensors;
    model = loadMagvit(path.join(dir!, 'weights.safetensors'), { config: parseMagvitConfig(meta) });
  });
  after(() => model?.dispose());

  it('encoder output, codes and quantiser losses', () => {
    const start = tf.memory().numTensors;
    const x = nhwc(get('input_images'));
    const z = model.encoderOutput(x);
    const want = nhwc(get('encoder_out_prequant'));
    assert.ok(maxDiff(z, want) <= 1e-4);
    const codes = model.encodeToCodes(x);
    assert.deepEqual(Array.from(codes.dataSync()), Array.from(get('codes').data));
    assert.deepEqual(Array.from(codes.dataSync()), meta.codes.flat());
    const q = lfqForward(z, model.config);
    assert.ok(Math.abs(q.commit.dataSync()[0] - meta.quantizer_forward.quantizer_loss) < 1e-5);
    assert.ok(Math.abs(q.entropy.dataSync()[0] - meta.quantizer_forward.entropy_loss) < 1e-5);
    tf.dispose([x, z, want, codes, q.zq, q.commit, q.entropy]);
    assert.equal(tf.memory().numTensors, start);
  });

  it('dequantised latent and decoded images, fixture and t2i-pipeline codes', () => {
    const start = tf.memory().numTensors;
    for (const [codesKey, latentKey, imagesKey] of [
      ['codes', 'dequantized_latent', 'decoded_images'],
      ['pipeline_t2i_codes', undefined, 'pipeline_t2i_decoded'],
    ] as const) {
      const c = get(codesKey);
      const codes = { data: c.data, batch: c.shape[0] };
      if (latentKey) {
        const latent = model.codesToLatent(codes);
        const want = nhwc(get(latentKey));
        assert.equal(maxDiff(latent, want), 0);
        tf.dispose([latent, want]);
      }
      const decoded = model.decodeCodes(codes);
      const want = nhwc(get(imagesKey));
      const d = maxDiff(decoded, want);
      assert.ok(d <= 1e-4, `${imagesKey}: max diff ${d}`);
      tf.dispose([decoded, want]);
    }
    assert.equal(tf.memory().numTensors, start);
  });

  it('per-module intermediates of image 0', () => {
    const checked: string[] = [];
    const compare = (module: string, v: tf.Tensor4D) => {
      const ref = io.get(`debug.img0.${module}`);
      if (!ref) return;
      const want = nhwc(ref);
      const d = maxDiff(v, want);
      want.dispose();
      assert.ok(d <= 1e-4, `${module}: max diff ${d}`);
      checked.push(module);
    };
    const x = tf.tidy(() => nhwc(get('input_images')).slice([0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
    tf.dispose(model.encoderOutput(x, { tap: compare }));
    const c = get('codes');
    const latent = model.codesToLatent({ data: c.data.subarray(0, c.shape[1]), batch: 1 });
    tf.dispose(model.decodeLatent(latent, { tap: compare }));
    tf.dispose([x, latent]);
    const expected = [...io.keys()].filter((k) => k.startsWith('debug.img0.')).map((k) => k.slice('debug.img0.'.length));
    assert.deepEqual(checked.sort(), expected.sort());
  });
});
