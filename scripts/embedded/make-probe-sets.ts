// Larger evaluation files for the tags the public sets hold few of (8 "where" questions, 14 position prompts), in
// the public formats, so `showo eval` scores them: fresh in-distribution samples from the generator (no held-out
// compositions), a fixed seed so two models are compared on the same items.
//
//   node --import tsx scripts/embedded/make-probe-sets.ts --out runs/probe [--n 60] [--seed 4242]
//   npx showo eval --model DIR --mmu runs/probe/mmu.jsonl --t2i runs/probe/t2i.jsonl --workers 2 --json
import fs from 'node:fs';
import path from 'node:path';
import { SeededRandom } from '@showo/runtime';
import { sampleMmu, sampleT2i, type QuestionKind } from '@showo/shapes-world';
import { arg } from './common.js';

const OUT = path.resolve(arg('out', 'runs/probe'));
const N = Number(arg('n', '60'));
const rng = new SeededRandom(Number(arg('seed', '4242')));
fs.mkdirSync(OUT, { recursive: true });

const mmu: string[] = [];
for (const kind of ['where', 'shape', 'describe'] as QuestionKind[]) {
  for (let i = 0; i < N; i++) {
    const s = sampleMmu(rng, { questionWeights: { [kind]: 1 } as Record<QuestionKind, number> });
    mmu.push(JSON.stringify({ id: `probe-${kind}-${i}`, scene: s.scene, question: s.question, answer: s.answer }));
  }
}
fs.writeFileSync(path.join(OUT, 'mmu.jsonl'), mmu.join('\n') + '\n');

const t2i: string[] = [];
let position = 0;
let single = 0;
while (position < N || single < N) {
  const s = sampleT2i(rng, { captionWeights: { single: 1 } });
  const where = s.expect.objects.some((o) => o.where !== undefined);
  if (where ? position >= N : single >= N) continue;
  const tag = where ? 'position' : 'single';
  t2i.push(JSON.stringify({ id: `probe-${tag}-${where ? position++ : single++}`, prompt: s.caption, tag, expect: s.expect }));
}
fs.writeFileSync(path.join(OUT, 't2i.jsonl'), t2i.join('\n') + '\n');
console.log(`wrote ${mmu.length} questions and ${t2i.length} prompts to ${OUT}`);
