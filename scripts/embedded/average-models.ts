// Averages the weights of several model folders of one architecture (a "checkpoint soup"): late checkpoints of one
// run oscillate around a minimum, and their mean often generates better than any one of them. Every float tensor is
// the (optionally weighted) mean; config.json and any other files are copied from the first folder.
//   node --import tsx scripts/embedded/average-models.ts --out runs/soup runs/showo6/best runs/showo6/export2 …
//        [--weights 1,1,2]
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '@showo/runtime';
import { arg, log } from './common.js';

function main(): void {
  const argv = process.argv.slice(2);
  const folders: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i]!.startsWith('--')) i++;
    else folders.push(path.resolve(argv[i]!));
  }
  if (folders.length < 2) throw new Error('give at least two model folders');
  const weights = arg('weights', folders.map(() => '1').join(',')).split(',').map(Number);
  if (weights.length !== folders.length || weights.some((w) => !(w >= 0))) throw new Error('--weights needs one non-negative number per folder');
  const total = weights.reduce((a, b) => a + b, 0);
  const out = path.resolve(arg('out', 'runs/soup'));
  const files = folders.map((f) => readSafetensors(path.join(f, 'model.safetensors')));
  const first = files[0]!;
  const mean: Record<string, TensorToWrite> = {};
  for (const [name, t] of first.tensors) {
    const acc = new Float32Array(t.data.length);
    files.forEach((file, k) => {
      const other = file.tensors.get(name);
      if (!other || other.shape.join() !== t.shape.join()) throw new Error(`${folders[k]}: tensor ${name} is missing or has another shape`);
      for (let i = 0; i < acc.length; i++) acc[i] += (weights[k]! / total) * other.data[i]!;
    });
    mean[name] = { dtype: t.dtype, shape: t.shape, data: t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' ? acc : t.data };
  }
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(folders[0]!)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(folders[0]!, f), path.join(out, f));
  writeSafetensors(path.join(out, 'model.safetensors'), mean, first.metadata);
  log(`averaged ${folders.length} models (weights ${weights.join(', ')}) → ${out}`);
}

main();
