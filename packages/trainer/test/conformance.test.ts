// Exactness against the showo-tiny fixtures, through this package's API only (the full checks, including the model
// forward pass, live in @showo/conformance's `checkTrainMasking` / `checkTrainLosses`, a layer above).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RecordedUniforms, readSafetensors, requireReferenceDir } from '@showo/runtime';
import { TokenLayout, UniversalPrompting } from '@showo/prompting';
import { buildShowoBatch, maskImageTokens, showoLosses } from '@showo/trainer';
import { useWasm } from './helpers.js';

const ref = requireReferenceDir();
const tiny = ref && path.join(ref, 'showo-tiny');
const json = (f: string) => JSON.parse(fs.readFileSync(path.join(tiny!, f), 'utf8'));

test('train_masking.json: mask_or_random_replace_tokens with the recorded uniforms is exact', { skip: !ref && 'fixtures missing' }, () => {
  const fx = json('train_masking.json');
  const B = fx.image_tokens.length;
  const N = fx.image_tokens[0].length;
  const src = new RecordedUniforms([...fx.uniforms_timesteps, ...fx.uniforms_randperm.flat()]);
  const r = maskImageTokens(fx.image_tokens.flat(), B, N, src, { maskId: fx.mask_id, minMaskingRate: fx.config.min_masking_rate, contiguousRegionProb: fx.config.mask_contiguous_region_prob });
  fx.mask_prob.forEach((p: number, b: number) => assert.ok(Math.abs(p - r.maskProb[b]) < 1e-6));
  assert.deepEqual([...r.numMasked], fx.num_token_masked);
  assert.deepEqual([...r.inputIds], fx.input_ids.flat());
  assert.deepEqual([...r.labels], fx.labels.flat());
  assert.equal(src.consumed, B + B * N);
});

test('train_mixed: the batch rebuilt from its inputs and the losses of its logits are the official ones', { skip: !ref && 'fixtures missing' }, async () => {
  await useWasm();
  const t = json('forward.json').train_mixed;
  const cfg = json('config.json');
  const mk = json('train_masking.json');
  const layout = TokenLayout.fromShowoConfig(cfg.showo, { bosId: cfg.token_ids['bos(<|sot|>)'] });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: cfg.showo.max_seq_length, numVqTokens: cfg.showo.num_vq_tokens });
  const batch = buildShowoBatch(
    prompting,
    { t2i: { texts: t.t2i_texts, imageIds: mk.image_tokens }, lm: { texts: t.lm_texts }, mmu: { texts: t.mmu_texts, imageIds: t.mmu_image_ids } },
    new RecordedUniforms([...mk.uniforms_timesteps, ...mk.uniforms_randperm.flat(), ...t.cond_dropout_uniforms]),
    { condDropoutProb: t.cond_dropout_prob },
  );
  assert.deepEqual([...batch.inputIds], t.input_ids.flat());
  assert.deepEqual([...batch.labels], t.labels.flat());
  assert.equal(String.fromCharCode(...batch.allow.data.map((x) => 48 + x)), t.attention_mask_allow_rows.join(''));

  const logits = readSafetensors(path.join(tiny!, 'forward.safetensors')).tensors.get('train_mixed.logits')!;
  const x = tf.tensor3d(logits.data as Float32Array, logits.shape as [number, number, number]);
  const l = showoLosses(x, t.labels, { batchT2i: t.batch_size_t2i, batchLm: t.batch_size_lm, batchMmu: t.batch_size_mmu, maxSeqLength: t.max_seq_length });
  assert.ok(Math.abs(l.t2i.dataSync()[0] - t.loss_t2i) < 1e-5, `t2i ${l.t2i.dataSync()[0]} vs ${t.loss_t2i}`);
  assert.ok(Math.abs(l.lm.dataSync()[0] - t.loss_lm) < 1e-5, `lm ${l.lm.dataSync()[0]} vs ${t.loss_lm}`);
  assert.ok(Math.abs(l.mmu.dataSync()[0] - t.loss_mmu) < 1e-5, `mmu ${l.mmu.dataSync()[0]} vs ${t.loss_mmu}`);
  tf.dispose([x, l.t2i, l.lm, l.mmu, l.total]);
});
