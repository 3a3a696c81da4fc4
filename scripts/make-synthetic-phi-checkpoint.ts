// A synthetic Show-o checkpoint of the real Phi-1.5 shape (24 layers, hidden 2048, intermediate 8192, 32 heads,
// vocab 58498: ~1.42 B parameters, 5.7 GB in F32), to measure what loading a real one costs without downloading it.
// The output is never committed: it goes to /tmp.
//
//   node --import tsx scripts/make-synthetic-phi-checkpoint.ts [--out /tmp/showo-phi-synthetic] [--dtype F32|BF16]
//       writes config.json (the official release layout) + pytorch_model.safetensors, one tensor at a time
//   node --import tsx scripts/make-synthetic-phi-checkpoint.ts --measure [--out DIR] [--backend cpu|wasm|tensorflow]
//       loads it with ShowoModel.load, runs one 4-token forward and prints the peak RSS
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, writeFileAtomic, writeSafetensors, type TensorToWrite } from '@showo/runtime';
import { ShowoModel, paramSpecs, parseShowoConfig } from '@showo/showo-core';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : def;
};
const OUT = arg('out', '/tmp/showo-phi-synthetic');
const DTYPE = arg('dtype', 'F32') as 'F32' | 'BF16';
const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

/** The official release's config.json: Show-o fields only; the Phi-1.5 fields are implied by llm_model_path. */
const RELEASE_CONFIG = {
  _class_name: 'Showo',
  codebook_size: 8192,
  llm_model_path: 'microsoft/phi-1_5',
  llm_vocab_size: 50295,
  num_vq_tokens: 256,
  vocab_size: 58498,
  w_clip_vit: false,
};

function write(): void {
  const config = parseShowoConfig(RELEASE_CONFIG);
  const specs = paramSpecs(config);
  fs.mkdirSync(OUT, { recursive: true });
  // One-slot lazy data: the writer asks for a tensor's values only when it reaches it, so at most one tensor is
  // in memory (the largest, embed_tokens / lm_head, is 58498×2048 floats = 457 MiB).
  let slot: { name: string; data: Float32Array } | undefined;
  let seed = 12345;
  const fill = (name: string, n: number, kind: string): Float32Array => {
    if (slot?.name === name) return slot.data;
    slot = undefined;
    const data = new Float32Array(n);
    if (kind === 'norm-weight') data.fill(1);
    else if (kind !== 'bias' && kind !== 'norm-bias') {
      // cheap LCG uniforms scaled to std 0.02 (speed matters at 1.4 B values; the distribution does not)
      let s = seed++ >>> 0;
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        data[i] = (s / 4294967296 - 0.5) * 0.0693;
      }
    }
    slot = { name, data };
    return data;
  };
  const tensors = new Map<string, TensorToWrite>();
  let count = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    count += n;
    tensors.set(s.name, {
      dtype: DTYPE,
      shape: s.shape,
      get data() {
        return fill(s.name, n, s.kind);
      },
    });
  }
  const t0 = Date.now();
  writeSafetensors(path.join(OUT, 'pytorch_model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(path.join(OUT, 'config.json'), JSON.stringify(RELEASE_CONFIG, null, 2) + '\n');
  const size = fs.statSync(path.join(OUT, 'pytorch_model.safetensors')).size;
  console.log(`wrote ${OUT}: ${specs.length} tensors, ${(count / 1e9).toFixed(3)} B parameters, ${DTYPE}, ${gib(size)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`peak RSS while writing: ${gib(process.resourceUsage().maxRSS * 1024)}`);
}

async function measure(): Promise<void> {
  const choice = await initBackend(arg('backend', 'cpu'));
  const rssBefore = process.memoryUsage().rss;
  const t0 = Date.now();
  let model: ShowoModel;
  try {
    model = await ShowoModel.load(OUT);
  } catch (e) {
    console.log(`load refused on ${choice.name}: ${(e as Error).name}: ${(e as Error).message}`);
    return;
  }
  const loadS = (Date.now() - t0) / 1000;
  const afterLoad = process.memoryUsage();
  const weights = 4 * model.parameterCount;
  console.log(`backend ${choice.name}: loaded ${(model.parameterCount / 1e9).toFixed(3)} B parameters (${gib(weights)} float32) in ${loadS.toFixed(1)} s`);
  console.log(`RSS before load ${gib(rssBefore)}, after load ${gib(afterLoad.rss)}, peak so far ${gib(process.resourceUsage().maxRSS * 1024)} (weights alone: ${gib(weights)})`);
  const ids = tf.tensor2d([[50256, 40, 588, 257]], [1, 4], 'int32');
  const allow = tf.tidy(() => tf.cast(tf.linalg.bandPart(tf.ones([4, 4]), -1, 0), 'bool').expandDims(0));
  const t1 = Date.now();
  const logits = model.forward(ids, allow, { logits: 'last' });
  const finite = logits.dataSync().every(Number.isFinite);
  console.log(`4-token forward: ${(Date.now() - t1) / 1000} s, logits [${logits.shape}], finite: ${finite}`);
  tf.dispose([ids, allow, logits]);
  model.dispose();
  console.log(`peak RSS of the process: ${gib(process.resourceUsage().maxRSS * 1024)}`);
}

if (process.argv.includes('--measure')) await measure();
else write();
