import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container } from 'inversify';
import { PROMPTING_TYPES } from '@showo/prompting';
import { MaskGitScheduler, SAMPLER_TYPES, ShowoPipelines, imageResult, samplerModule, type MaskGitSchedulerFactory } from '@showo/sampler';
import { tinySetup } from './tiny.js';

test('the container module provides scheduler factories and pipelines over a rebound model', async () => {
  const t = await tinySetup();
  const container = new Container();
  container.load(samplerModule());
  container.bind(PROMPTING_TYPES.UniversalPrompting).toConstantValue(t.prompting);
  // A user's own transformer: rebind the sampler's model token.
  container.rebind(SAMPLER_TYPES.Model).toConstantValue(t.model);
  const factory = container.get<MaskGitSchedulerFactory>(SAMPLER_TYPES.MaskGitSchedulerFactory);
  assert.ok(factory({ steps: 3 }) instanceof MaskGitScheduler);
  const pipelines = await container.getAsync<ShowoPipelines>(SAMPLER_TYPES.Pipelines);
  assert.ok(pipelines instanceof ShowoPipelines);
  const r = await imageResult(pipelines.textToImage({ prompts: [[1, 2]], steps: 2, seed: 1 }));
  assert.equal(r!.codes[0]!.length, 16);
  t.dispose();
});
