import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import { buildOmniMaskFromIds, appendRows, sliceMask } from '@showo/omni-attention';
import { ShowoModel, tokenLayoutFor, type ShowoConfig } from '@showo/showo-core';

const BENCH: ShowoConfig = {
  vocab_size: 1235, llm_vocab_size: 200, num_new_special_tokens: 10, codebook_size: 1024, num_vq_tokens: 256,
  hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 4, num_attention_heads: 8, partial_rotary_factor: 0.5,
  qk_layernorm: true, layer_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 2048, max_seq_length: 32,
};
await initBackend('auto', { log: () => {} });
const model = ShowoModel.random(BENCH, 0);
const layout = tokenLayoutFor(BENCH, { bosId: 199 });
const prompt = Array.from({ length: 20 }, (_, i) => (i * 7) % 199);
const mmuPrompt = [layout.special('<|mmu|>'), layout.special('<|soi|>'), ...Array.from({ length: 256 }, (_, i) => layout.codeToId(i % 1024)), layout.special('<|eoi|>'), 199, ...prompt];
const ids = [mmuPrompt];
const allow = buildOmniMaskFromIds(ids, { padId: layout.padId, soiId: layout.special('<|soi|>'), eoiId: layout.special('<|eoi|>') }, { pad: 'isolate' });
const L = mmuPrompt.length;
const cache = model.emptyCache(1);
const t0 = tf.tensor2d(Int32Array.from(mmuPrompt), [1, L], 'int32');
model.forwardWithCache(t0, allow, cache, { append: true, logits: 'last' }).dispose();
let rows = sliceMask(allow, { queries: [L - 1, L] });
const NEW = [{ kind: 'text' as const, length: 1 }];
function step() {
  rows = appendRows(rows, NEW, { contextRow: 0 });
  const t = tf.tensor2d(Int32Array.from([5]), [1, 1], 'int32');
  const out = model.forwardWithCache(t, rows, cache, { append: true, logits: 'last' });
  t.dispose();
  const d = out.dataSync();
  out.dispose();
  return d;
}
for (let i = 0; i < 5; i++) step();
const N = 20;
const c0 = process.cpuUsage(); const w0 = performance.now();
for (let i = 0; i < N; i++) step();
const c = process.cpuUsage(c0);
console.log(`step: wall ${((performance.now() - w0) / N).toFixed(2)} ms, cpu ${((c.user + c.system) / 1000 / N).toFixed(2)} ms, P=${cache.length}`);
const prof = await tf.profile(() => { step(); });
const agg = new Map<string, { n: number; ms: number }>();
for (const k of prof.kernels) { const a = agg.get(k.name) ?? { n: 0, ms: 0 }; a.n++; a.ms += k.kernelTimeMs as number; agg.set(k.name, a); }
const tot = [...agg.values()].reduce((s, a) => s + a.ms, 0);
console.log(`kernels: ${prof.kernels.length}, kernel ms total ${tot.toFixed(2)}, newTensors ${prof.newTensors}`);
for (const [k, a] of [...agg].sort((x, y) => y[1].ms - x[1].ms)) console.log(`  ${k.padEnd(20)} n=${String(a.n).padStart(4)} ${a.ms.toFixed(2)} ms`);
// host mask time
const h0 = performance.now(); for (let i = 0; i < 100; i++) appendRows(rows, NEW, { contextRow: 0 }); console.log('appendRows ms', ((performance.now() - h0) / 100).toFixed(3));
const mm = new Map<string, { n: number; ms: number }>();
for (let r = 0; r < 5; r++) {
  const p2 = await tf.profile(() => { step(); });
  for (const k of p2.kernels) if (k.name === 'BatchMatMul') { const key = JSON.stringify(k.inputShapes); const a = mm.get(key) ?? { n: 0, ms: 0 }; a.n++; a.ms += (k.kernelTimeMs as number) / 5; mm.set(key, a); }
}
for (const [k, a] of [...mm].sort((x, y) => y[1].ms - x[1].ms)) console.log(`  ${k.padEnd(40)} n=${a.n / 5} ${a.ms.toFixed(2)} ms`);
