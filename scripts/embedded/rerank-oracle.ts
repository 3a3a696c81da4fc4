// How much best-of-N reranking could give, and how much the model's own critic takes: for each prompt of a t2i file,
// N candidates (one batched generation with `rerank: N`), every candidate scored with the SPEC detector.
//   node --import tsx scripts/embedded/rerank-oracle.ts [--n 4] [--t2i FILE.jsonl] [--model DIR] [--every 3]
// Prints per prompt which candidates pass and the model's caption log-likelihoods, then: prompts with any passing
// candidate (the oracle), prompts whose chosen candidate passes (the reranker), and the first candidate alone.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createShowo } from '@showo/showo';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { parseT2iJsonl, scoreT2I } from '@showo/shapes-world';
import type { ImageGenerationEvent } from '@showo/sampler';
import { ROOT, arg, log } from './common.js';

const N = Number(arg('n', '4'));
const EVERY = Number(arg('every', '3'));
const MODEL = path.resolve(arg('model', path.join(ROOT, 'models', 'shapes-world')));
const FILE = arg('t2i', path.join(ROOT, '..', 'shared', 'shapes-world', 't2i-public.jsonl'));

async function main(): Promise<void> {
  const items = parseT2iJsonl(fs.readFileSync(FILE, 'utf8')).filter((_, i) => i % EVERY === 0);
  const showo = await createShowo({ model: MODEL, backend: 'wasm' });
  const tok = loadMagvit(path.join(MODEL, 'magvit', 'model.safetensors'));
  let oracle = 0;
  let picked = 0;
  let first = 0;
  let passing = 0;
  try {
    for (const [k, it] of items.entries()) {
      let rerank: Extract<ImageGenerationEvent, { type: 'rerank' }> | undefined;
      await showo.t2i(it.prompt, { rerank: N, seed: k }).result((e) => {
        if (e.type === 'rerank') rerank = e;
      });
      const cands = rerank!.candidates[0]!;
      const px = tf.tidy(() => tok.decodeCodes(cands.map((c) => Array.from(c))).dataSync());
      const n = 64 * 64 * 3;
      const pass = cands.map((_, i) => scoreT2I(it.expect, Uint8Array.from(px.subarray(i * n, (i + 1) * n), (v) => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))))).pass);
      const c = rerank!.chosen[0]!;
      oracle += pass.some(Boolean) ? 1 : 0;
      picked += pass[c] ? 1 : 0;
      first += pass[0] ? 1 : 0;
      passing += pass.filter(Boolean).length;
      log(`${it.id} ${it.prompt.padEnd(36)} pass ${pass.map((p) => (p ? 1 : 0)).join('')} log p ${rerank!.scores[0]!.map((s) => s.toFixed(1)).join(' ')} chosen ${c}`);
    }
  } finally {
    tok.dispose();
    await showo.dispose();
  }
  log(`${items.length} prompts, ${N} candidates: any passes ${oracle}, the model's pick ${picked}, the first candidate ${first}; candidates passing ${passing}/${items.length * N}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
