import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { TokenLayout, UniversalPrompting } from '@showo/prompting';
import { ShowoModel, type ShowoConfig } from '@showo/showo-core';
import { AdamW, ShowoTask, buildShowoBatch, showoLosses, namedVariables, clipByGlobalNorm } from '@showo/trainer';
await initBackend('wasm');
const MSL = 32;
const CONFIG: ShowoConfig = { vocab_size: 1235, llm_vocab_size: 200, num_new_special_tokens: 10, codebook_size: 1024, num_vq_tokens: 256, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 4, num_attention_heads: 8, partial_rotary_factor: 0.5, qk_layernorm: true, layer_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 2048, max_seq_length: MSL };
const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 1024, bosId: 199 });
const prompting = new UniversalPrompting(layout, { maxSeqLength: MSL, numVqTokens: 256 });
const model = ShowoModel.random(CONFIG, 0);
const r = new SeededRandom(1);
const text = () => Array.from({ length: 10 }, () => r.int(199));
const image = () => Array.from({ length: 256 }, () => 210 + r.int(1024));
const b = buildShowoBatch(prompting, { t2i: { texts: [text(), text(), text(), text()], imageIds: [image(), image(), image(), image()] }, lm: { texts: [text()] }, mmu: { texts: [text(), text(), text()], imageIds: [image(), image(), image()] } }, r);
const task = new ShowoTask(model, { maxSeqLength: MSL });
const vars = model.trainableVariables();
const time = async (name: string, f: () => tf.Tensor | tf.Tensor[] | void, reps = 3) => {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = f();
    if (out) { const arr = Array.isArray(out) ? out : [out]; await arr[0].data(); tf.dispose(arr); }
    ts.push(performance.now() - t0);
  }
  console.log(name, ts.map((t) => t.toFixed(0)).join(' '));
};
const ids = tf.tensor2d(b.inputIds, [8, 291], 'int32');
await time('forward', () => model.forward(ids, b.allow));
const logits = model.forward(ids, b.allow);
await time('loss only', () => { const l = showoLosses(logits, b.labels, { batchT2i: 4, batchLm: 1, batchMmu: 3, maxSeqLength: MSL }); return [l.total, l.t2i, l.lm, l.mmu]; });
await time('loss grad only', () => tf.grad((x: tf.Tensor) => showoLosses(x as tf.Tensor3D, b.labels, { batchT2i: 4, batchLm: 1, batchMmu: 3, maxSeqLength: MSL }).total)(logits));
await time('fwd+bwd', () => { const { value, grads } = tf.variableGrads(() => task.lossFn(b).total, vars); return [value, ...Object.values(grads)]; });
const { value, grads } = tf.variableGrads(() => task.lossFn(b).total, vars);
const params = namedVariables(vars);
const gmap = new Map(Object.entries(grads).map(([k, g]) => [k, g]));
const opt = new AdamW(); opt.init(params);
await time('clip', () => { const c = clipByGlobalNorm([...gmap.values()], 1); return [c.norm, ...c.grads]; });
await time('adamw', () => { opt.apply(params, gmap, 1e-4); return [params.values().next().value!]; });
