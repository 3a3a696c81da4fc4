import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Container } from 'inversify';
import {
  INTERLEAVED_ATTENTION,
  PROMPTING_TYPES,
  TaskAlreadyRegisteredError,
  TaskRegistry,
  TokenLayout,
  UniversalPrompting,
  UnknownTaskError,
  WordTokenizer,
  buildWordVocabulary,
  describeSegments,
  promptingModule,
  type PromptBatch,
  type TaskDefinition,
  type TokenLayoutOptions,
  type PromptingConfig,
} from '../src/index.js';
import { syntheticSetup } from './fixtures.js';

/** A test-local plugin (it would live in its own package): "how-to" = question, then step text + keyframe. */
interface HowToInput {
  question: number[];
  steps: { text: number[]; imageIds: number[] }[];
}
const howToPlugin: TaskDefinition<HowToInput[]> = {
  name: 'howto',
  token: '<|howto|>',
  description: 'question, then step texts each followed by its keyframe',
  attention: INTERLEAVED_ATTENTION,
  build(rows, { layout, tokenId }): PromptBatch {
    const ids = rows.map((r) => {
      const out = [tokenId!, layout.bosId, ...r.question, layout.eosId];
      for (const s of r.steps) out.push(layout.bosId, ...s.text, layout.eosId, layout.special('<|soi|>'), ...s.imageIds, layout.special('<|eoi|>'));
      return out;
    });
    const width = Math.max(...ids.map((r) => r.length));
    const inputIds = ids.map((r) => [...r, ...new Array<number>(width - r.length).fill(layout.padId)]);
    return { task: 'howto', inputIds, attentionMask: inputIds.map((r) => r.map((id) => (id === layout.padId ? 0 : 1))) };
  },
};

test('builtin tasks are registered with the official tokens', () => {
  const { prompting, layout } = syntheticSetup();
  const registry = new TaskRegistry(prompting);
  for (const name of ['t2i', 't2i_gen', 'mmu', 'mmu_gen', 'lm', 'lvg', 'lvg_gen', 'interleaved', 'inpainting', 'extrapolation']) assert.ok(registry.has(name), name);
  assert.equal(registry.get('t2i').tokenId, layout.special('<|t2i|>'));
  assert.equal(registry.get('mmu').tokenId, layout.special('<|mmu|>'));
  assert.equal(registry.get('lm').tokenId, undefined);
  assert.equal(registry.taskForToken('<|mmu|>')?.name, 'mmu');
  assert.equal(registry.taskForToken(layout.special('<|t2i|>'))?.name, 't2i');
  const img = [210, 211, 212, 213];
  assert.deepEqual(registry.build('t2i_gen', { texts: [[1]], imageIds: [img] }), prompting.t2iGen({ texts: [[1]], imageIds: [img] }));
  assert.equal(layout.vocabSize, 275); // builtins add no token
  assert.throws(() => registry.get('t2v'), (e: unknown) => e instanceof UnknownTaskError && e.task === 't2v');
  assert.throws(() => registry.build('nope', {}), UnknownTaskError);
  assert.deepEqual(new TaskRegistry(prompting, { builtins: false }).names(), []);
});

test('builtin attention rules describe the official masks as segments', () => {
  const { prompting, layout } = syntheticSetup();
  const registry = new TaskRegistry(prompting);
  const img = [210, 211, 212, 213];
  const t2i = prompting.t2iGen({ texts: [[1, 2]], imageIds: [img] }).inputIds;
  const mtl = prompting.maxTextLen;
  assert.deepEqual(registry.segments('t2i_gen', t2i), [[{ kind: 'pad', length: mtl - 5 }, { kind: 'text', length: 5 }, { kind: 'image', length: 6 }]]);
  assert.equal(registry.get('t2i').attention.pad, 'isolate');
  const mmu = prompting.mmu({ imageIds: [img], texts: [[1]] }).inputIds;
  assert.deepEqual(registry.segments('mmu', mmu), [[{ kind: 'image', length: 7 }, { kind: 'text', length: 3 }, { kind: 'pad', length: 13 }]]);
  assert.equal(registry.get('mmu').attention.pad, 'attend');
  // Adjacent image blocks stay separate; an unterminated block runs to the end.
  assert.deepEqual(describeSegments([201, 210, 202, 201, 211], layout), [{ kind: 'image', length: 3 }, { kind: 'image', length: 2 }]);
});

test('a plugin registers a new task token (appended after [MASK]) and builds its prompt and segments', () => {
  const { prompting, layout } = syntheticSetup();
  const registry = new TaskRegistry(prompting);
  const task = registry.register(howToPlugin);
  assert.equal(task.tokenId, 275);
  assert.equal(layout.special('<|howto|>'), 275);
  assert.equal(layout.vocabSize, 276);
  assert.equal(layout.maskId, 274);
  const batch = registry.build<HowToInput[]>('howto', [
    { question: [1, 2], steps: [{ text: [3], imageIds: [210, 211, 212, 213] }] },
    { question: [4], steps: [] },
  ]);
  assert.deepEqual(batch.inputIds[0], [275, 199, 1, 2, 199, 199, 3, 199, 201, 210, 211, 212, 213, 202]);
  assert.deepEqual(batch.inputIds[1], [275, 199, 4, 199, ...new Array(10).fill(200)]);
  assert.deepEqual(registry.segments('howto', batch.inputIds), [
    [{ kind: 'text', length: 8 }, { kind: 'image', length: 6 }],
    [{ kind: 'text', length: 4 }, { kind: 'pad', length: 10 }],
  ]);
});

test('registering an existing name or token is TaskAlreadyRegisteredError', () => {
  const { prompting, layout } = syntheticSetup();
  const registry = new TaskRegistry(prompting);
  registry.register(howToPlugin);
  const isDup = (e: unknown) => e instanceof TaskAlreadyRegisteredError;
  assert.throws(() => registry.register(howToPlugin), isDup); // same name
  assert.throws(() => registry.register({ ...howToPlugin, name: 'howto2' }), isDup); // token claimed
  assert.throws(() => registry.register({ ...howToPlugin, name: 't2i', token: '<|new|>' }), isDup); // builtin name
  for (const token of ['<|t2i|>', '<|t2v|>', '[PAD]', '[MASK]', '<|sot|>']) {
    assert.throws(() => registry.register({ ...howToPlugin, name: `x${token}`, token }), isDup, token); // exists in the vocabulary
  }
  assert.equal(layout.vocabSize, 276); // failed registrations added nothing
});

test('a plugin token a checkpoint already contains keeps its id', () => {
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199, pluginTokens: ['<|edit|>', '<|howto|>'] });
  const registry = new TaskRegistry(new UniversalPrompting(layout, { maxSeqLength: 16, numVqTokens: 4 }));
  assert.equal(registry.register(howToPlugin).tokenId, 276);
  assert.equal(layout.vocabSize, 277);
});

test('promptingModule binds layout, prompting and registry as singletons', () => {
  const container = new Container();
  const tok = new WordTokenizer(buildWordVocabulary(['a red circle']));
  // Configuration bound by the application …
  container.bind<TokenLayoutOptions>(PROMPTING_TYPES.TokenLayoutOptions).toConstantValue({ llmVocabSize: tok.vocabSize, codebookSize: 8, bosId: tok.bosId });
  container.bind<PromptingConfig>(PROMPTING_TYPES.PromptingConfig).toConstantValue({ maxSeqLength: 8, numVqTokens: 4 });
  // … or passed to the module.
  container.load(promptingModule({ tokenizer: tok }));
  const registry = container.get<TaskRegistry>(PROMPTING_TYPES.TaskRegistry);
  const prompting = container.get<UniversalPrompting>(PROMPTING_TYPES.UniversalPrompting);
  assert.equal(registry.prompting, prompting);
  assert.equal(container.get<TokenLayout>(PROMPTING_TYPES.TokenLayout), prompting.layout);
  assert.equal(prompting.tokenizer, tok);
  const batch = registry.build('t2i_gen', { texts: ['a red circle'], imageIds: [prompting.layout.codesToIds([0, 1, 2, 3])] });
  assert.equal(batch.inputIds[0]!.length, prompting.t2iSequenceLength);
});
