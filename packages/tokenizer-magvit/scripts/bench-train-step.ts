/**
 * Training-step speed of the tokenizer on the active backend: 64×64 images, batch 16, Adam.
 *   node --import tsx packages/tokenizer-magvit/scripts/bench-train-step.ts [backend=wasm] [steps=3] [config=small|wide]
 * Prints wall and process-CPU milliseconds per step (CPU time is the honest figure on a shared, loaded machine:
 * wasm runs on one thread) and the kernels that took the most time in one profiled step.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, MagvitTokenizer, magvitLossAndGrads, parameterCount, type CreateMagvitConfigOptions } from '../src/index.js';

const CONFIGS: Record<string, CreateMagvitConfigOptions> = {
  // ~0.59 M parameters, 64×64 → 16×16 codes of 8 bits; narrow at full resolution where the pixels are.
  small: { ch: 16, normGroups: 8, chMult: [1, 2, 4], numResBlocks: 1 },
  // ~0.71 M parameters, official GroupNorm(32): 32 channels at full resolution.
  wide: { ch: 32, chMult: [1, 2, 2], decoderChMult: [1, 1, 2], numResBlocks: 1 },
};

const [backend = 'wasm', stepsArg = '3', which = 'small'] = process.argv.slice(2);
await initBackend(backend);
const config = createMagvitConfig({ ...CONFIGS[which], resolution: 64, codebookDim: 8 });
const model = MagvitTokenizer.create(config, { seed: 1 });
const images = tf.randomUniform([16, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
const optimizer: tf.Optimizer = tf.train.adam(1e-3);
console.log(`${backend}, config ${which}: ${parameterCount(config)} parameters, batch 16×64×64`);
for (let i = 0; i < Number(stepsArg); i++) {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const { losses, grads } = magvitLossAndGrads(model, images);
  optimizer.applyGradients(grads);
  tf.dispose(grads);
  const c = process.cpuUsage(cpu);
  console.log(`step ${i}: loss ${losses.total.toFixed(4)}, ${(performance.now() - wall).toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms cpu`);
}
const profile = await tf.profile(() => {
  const r = magvitLossAndGrads(model, images);
  tf.dispose(r.grads);
});
const byKernel = new Map<string, number>();
for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
console.log([...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, t]) => `${k} ${((100 * t) / total).toFixed(0)}%`).join(', '));
tf.dispose(images);
optimizer.dispose();
model.dispose();
