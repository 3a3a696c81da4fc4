import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { initBackend } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import { ShowoModel, tokenLayoutFor, type ShowoConfig } from '@showo/showo-core';
import { generateTokens, textToImage } from '@showo/sampler';

const BENCH: ShowoConfig = {
  vocab_size: 1235, llm_vocab_size: 200, num_new_special_tokens: 10, codebook_size: 1024, num_vq_tokens: 256,
  hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 4, num_attention_heads: 8, partial_rotary_factor: 0.5,
  qk_layernorm: true, layer_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 2048, max_seq_length: 32,
};
const what = process.argv[2] ?? 'all';
await initBackend('auto', { log: () => {} });
const model = ShowoModel.random(BENCH, 0);
const layout = tokenLayoutFor(BENCH, { bosId: 199 });
const prompting = new UniversalPrompting(layout, { maxSeqLength: 32, numVqTokens: 256 });
const prompt = Array.from({ length: 20 }, (_, i) => (i * 7) % 199);
const mmuPrompt = [layout.special('<|mmu|>'), layout.special('<|soi|>'), ...Array.from({ length: 256 }, (_, i) => layout.codeToId(i % 1024)), layout.special('<|eoi|>'), 199, ...prompt];
async function measure(name: string, reps: number, fn: () => Promise<unknown>) {
  await fn();
  const ws: number[] = [], cs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    await fn();
    ws.push(performance.now() - t0); const c = process.cpuUsage(c0); cs.push((c.user + c.system) / 1000);
  }
  ws.sort((a, b) => a - b); cs.sort((a, b) => a - b);
  console.log(`${name}: wall ${ws.map((x) => x.toFixed(0)).join('/')} ms, cpu ${cs.map((x) => x.toFixed(0)).join('/')} ms`);
}
let result: unknown;
if (what === 'all' || what === 'kv') {
  await measure('answer32 kv', 3, async () => { result = await lastValueFrom(generateTokens({ model, prompting, cache: 'auto' }, { prompts: [mmuPrompt], maxNewTokens: 32, stopIds: [], seed: 1 }).pipe(toArray())); });
  const last = (result as any[]).at(-1); console.log('tokens', JSON.stringify(last.result.tokens[0]).slice(0, 200));
  await measure('answer1 kv (prefill only)', 3, async () => { await lastValueFrom(generateTokens({ model, prompting, cache: 'auto' }, { prompts: [mmuPrompt], maxNewTokens: 1, stopIds: [], seed: 1 }).pipe(toArray())); });
}
if (what === 'all' || what === 't2i') {
  await measure('t2i 18 cfg', 2, async () => { result = await lastValueFrom(textToImage({ model, prompting, cache: 'auto' }, { prompts: [prompt], steps: 18, guidanceScale: 5, seed: 1 }).pipe(toArray())); });
  const last = (result as any[]).at(-1); console.log('codes', JSON.stringify(Array.from(last.result?.codes?.[0] ?? last.codes?.[0] ?? [])).slice(0, 200), Object.keys(last));
}
console.log('tensors', tf.memory().numTensors);
