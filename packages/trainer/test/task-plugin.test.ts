// A task plugin from outside core: registers its own task token with @showo/prompting's registry, builds its
// prompt, and builds its attention mask with @showo/omni-attention from the task's attention rule. It lives in
// trainer's tests because trainer is the lowest layer that depends on both packages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendRows, buildOmniMask, createAttentionMaskLvg, masksEqual, selectBatch, sliceMask, toAllowRows } from '@showo/omni-attention';
import { INTERLEAVED_ATTENTION, TaskRegistry, TokenLayout, UniversalPrompting, type PromptBatch, type TaskDefinition } from '@showo/prompting';

interface HowToRow {
  question: number[];
  steps: { text: number[]; imageIds: number[] }[];
}

/** `<|howto|> BOS question EOS`, then per step `BOS text EOS <|soi|> keyframe <|eoi|>`, right-padded. */
const howTo: TaskDefinition<HowToRow[]> = {
  name: 'howto',
  token: '<|howto|>',
  attention: INTERLEAVED_ATTENTION,
  build(rows, { layout, tokenId }): PromptBatch {
    const soi = layout.special('<|soi|>');
    const eoi = layout.special('<|eoi|>');
    const seqs = rows.map((r) => {
      const ids = [tokenId!, layout.bosId, ...r.question, layout.eosId];
      for (const s of r.steps) ids.push(layout.bosId, ...s.text, layout.eosId, soi, ...s.imageIds, eoi);
      return ids;
    });
    const width = Math.max(...seqs.map((s) => s.length));
    const inputIds = seqs.map((s) => [...s, ...new Array<number>(width - s.length).fill(layout.padId)]);
    return { task: 'howto', inputIds, attentionMask: inputIds.map((r) => r.map((id) => (id === layout.padId ? 0 : 1))) };
  },
};

test('a plugin task token: prompt and omni-attention mask', () => {
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199 });
  const registry = new TaskRegistry(new UniversalPrompting(layout, { maxSeqLength: 16, numVqTokens: 2 }));
  const task = registry.register(howTo);
  assert.equal(task.tokenId, 275); // appended after [MASK] = 274; no existing id moves
  assert.equal(layout.maskId, 274);
  assert.equal(layout.vocabSize, 276);

  const batch = registry.build<HowToRow[]>('howto', [
    { question: [1], steps: [{ text: [2], imageIds: [210, 211] }, { text: [3], imageIds: [274, 274] }] },
    { question: [4], steps: [{ text: [5], imageIds: [212, 213] }] },
  ]);
  assert.deepEqual(batch.inputIds, [
    [275, 199, 1, 199, 199, 2, 199, 201, 210, 211, 202, 199, 3, 199, 201, 274, 274, 202],
    [275, 199, 4, 199, 199, 5, 199, 201, 212, 213, 202, 200, 200, 200, 200, 200, 200, 200],
  ]);

  const rule = registry.get('howto').attention;
  const mask = buildOmniMask(registry.segments('howto', batch.inputIds), { pad: rule.pad });
  const rows = toAllowRows(mask);
  assert.equal(rows[0], '100000000000000000'); // task token: causal
  assert.equal(rows[7], '111111111110000000'); // first keyframe: text before it + the whole block
  assert.equal(rows[11], '111111111111000000'); // next step's text sees the keyframe
  assert.equal(rows[14], '111111111111111111'); // second keyframe
  assert.equal(rows[18 + 11], '000000000001000000'); // a pad row sees only its own run
  // Row 0 (no padding) is exactly the official interleaved (lvg) mask. (The official function cannot take this
  // batch as a whole: its rows hold different numbers of images.)
  const first = selectBatch(mask, [0]);
  assert.equal(masksEqual(first, createAttentionMaskLvg([batch.inputIds[0]!], { padId: 200, soiId: 201, eoiId: 202 })), true);
  // Generating the second keyframe with its prefix cached: the appended rows are those of the full mask.
  const cached = sliceMask(first, { queries: [0, 14], keys: [0, 14] });
  const keyframe = appendRows(cached, [{ kind: 'image', length: 4 }]);
  assert.deepEqual(toAllowRows(keyframe), rows.slice(14, 18));
});
