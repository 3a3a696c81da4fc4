import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
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
const mmuPrompt = [layout.special('<|mmu|>'), layout.special('<|soi|>'), ...Array.from({ length: 256 }, (_, i) => layout.codeToId(i % 1024)), layout.special('<|eoi|>'), 199, ...Array.from({ length: 20 }, (_, i) => (i * 7) % 199)];
const allow = buildOmniMaskFromIds([mmuPrompt], { padId: layout.padId, soiId: layout.special('<|soi|>'), eoiId: layout.special('<|eoi|>') }, { pad: 'isolate' });
const L = mmuPrompt.length;
const NEW = [{ kind: 'text' as const, length: 1 }];
const N = Number(process.argv[2] ?? 32);
let tot = 0, totW = 0;
for (let rep = 0; rep < 6; rep++) {
  const cache = model.emptyCache(1);
  const t0 = tf.tensor2d(Int32Array.from(mmuPrompt), [1, L], 'int32');
  model.forwardWithCache(t0, allow, cache, { append: true, logits: 'last' }).dispose(); t0.dispose();
  let rows = sliceMask(allow, { queries: [L - 1, L] });
  const c0 = process.cpuUsage(); const w0 = performance.now();
  for (let i = 0; i < N; i++) {
    rows = appendRows(rows, NEW, { contextRow: 0 });
    const t = tf.tensor2d(Int32Array.from([5 + i]), [1, 1], 'int32');
    const out = model.forwardWithCache(t, rows, cache, { append: true, logits: 'last' });
    t.dispose(); out.dataSync(); out.dispose();
  }
  const c = process.cpuUsage(c0);
  if (rep > 0) { tot += (c.user + c.system) / 1000 / N; totW += (performance.now() - w0) / N; }
  cache.dispose();
}
console.log(`per decode step: cpu ${(tot / 5).toFixed(2)} ms, wall ${(totW / 5).toFixed(2)} ms; tensors ${tf.memory().numTensors}`);
