import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RecordedUniforms, initBackend } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import { ShowoModel, tokenLayoutFor } from '@showo/showo-core';
import { MASKED, textToImage, understand, type ImageGenerationEvent, type TextGenerationEvent } from '@showo/sampler';
import { lastValueFrom, toArray } from 'rxjs';
import { readJson, tinyDir } from './helpers.js';

const dir = tinyDir();

async function setup() {
  await initBackend(process.env.SHOWO_BACKEND ?? 'wasm');
  const model = await ShowoModel.load(dir!);
  const layout = tokenLayoutFor(model.config, { bosId: 199 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 16, numVqTokens: 64 });
  return { model, prompting };
}

test('text-to-image reproduces maskgit.json with the real model (recompute and prefix cache)', { skip: !dir }, async () => {
  const { model, prompting } = await setup();
  const fx = readJson(path.join(dir!, 'maskgit.json'));
  const before = tf.memory().numTensors;
  for (const cache of [(process.env.CM ?? 'none') as 'none' | 'auto']) {
    for (const run of fx.runs) {
      const uniforms = new RecordedUniforms(run.steps.flatMap((s: any) => [...s.sample_uniforms, ...s.gumbel_uniforms]));
      const events = await lastValueFrom(
        textToImage({ model, prompting, cache }, { prompts: run.text_ids, steps: run.timesteps, guidanceScale: run.guidance_scale, temperature: run.temperature, schedule: run.schedule, uniforms }).pipe(toArray()),
      );
      const steps = events.filter((e): e is Extract<ImageGenerationEvent, { type: 'step' }> => e.type === 'step');
      assert.equal(steps.length, run.timesteps);
      steps.forEach((e, s) => {
        const ref = run.steps[s];
        const tag = `${cache} g${run.guidance_scale} step ${s}`;
        assert.deepEqual(e.maskLen, ref.mask_len, `${tag} mask_len`);
        const after = ref.input_ids_after.map((row: number[]) => row.slice(-65, -1).map((id) => (id === 274 ? MASKED : id - 210)));
        assert.deepEqual(e.tokens.map((t) => Array.from(t)), after, `${tag} tokens`);
      });
      const done = events.at(-1)!;
      assert.equal(done.type, 'done');
      if (done.type === 'done') assert.deepEqual(done.result.codes.map((c) => Array.from(c)), run.final_sampled_ids);
    }
  }
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('understanding reproduces mmu.json with the real model (recompute and KV cache)', { skip: !dir }, async () => {
  const { model, prompting } = await setup();
  const fx = readJson(path.join(dir!, 'mmu.json'));
  const before = tf.memory().numTensors;
  for (const cache of [(process.env.CM ?? 'none') as 'none' | 'auto']) {
    for (const run of fx.runs) {
      const uniforms = new RecordedUniforms(run.steps.map((s: any) => s.sample_uniform));
      const events: TextGenerationEvent[] = await lastValueFrom(
        understand(
          { model, prompting, cache },
          { images: run.image_ids.map((ids: number[]) => ({ codes: ids.map((i) => i - 210) })), questions: [run.question_text_ids], topK: run.top_k ?? undefined, temperature: run.temperature, maxNewTokens: run.max_new_tokens, uniforms },
        ).pipe(toArray()),
      );
      const done = events.at(-1)!;
      assert.equal(done.type, 'done');
      if (done.type === 'done') assert.deepEqual(done.result.tokens[0], run.generated_tokens, `${cache} top_k ${run.top_k}`);
    }
  }
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});
