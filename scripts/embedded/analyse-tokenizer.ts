// Where does the tokenizer gate fail? Reconstructs fresh scenes and sorts the failures into kinds (extra blob,
// lost object, shape changed, colour changed, moved across a third), with and without removing speckles (palette
// regions smaller than --min-area pixels, relabelled with their surroundings' colour).
//
// Also reports how pure the codes are in colour: for every code, the colours of the pixels of the 4×4 patches it
// encodes. A code that stands for patches of several colours leaves the colour to the decoder's context, which a
// reconstruction tolerates but a generator pays for: it must get the colour right through other tokens.
//
//   node --import tsx scripts/embedded/analyse-tokenizer.ts --weights runs/tokenizer/best.safetensors [--n 300]
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { detectObjects, randomScene, renderScene, whereOf, type Scene } from '@showo/shapes-world';
import { despecklePalette, loadMagvit } from '@showo/tokenizer-magvit';
import { arg, colourPurity, countPatchColours, describePurity, log, objectKey, scenesToTensor, tensorToBytes } from './common.js';

type Kind = 'extra' | 'lost' | 'shape' | 'colour' | 'third' | 'other';

function failureKind(a: Uint8Array, b: Uint8Array): Kind {
  const oa = detectObjects(a);
  const ob = detectObjects(b);
  if (ob.length > oa.length) return 'extra';
  if (ob.length < oa.length) return 'lost';
  const key = (o: (typeof oa)[number], parts: ('shape' | 'color' | 'where')[]) =>
    parts.map((p) => (p === 'where' ? JSON.stringify(whereOf(o)) : o[p])).join('/');
  const same = (parts: ('shape' | 'color' | 'where')[]) => oa.map((o) => key(o, parts)).sort().join('|') === ob.map((o) => key(o, parts)).sort().join('|');
  if (!same(['shape'])) return 'shape';
  if (!same(['color'])) return 'colour';
  if (!same(['where'])) return 'third';
  return 'other';
}

async function main(): Promise<void> {
  await initBackend('wasm');
  const model = loadMagvit(path.resolve(arg('weights', 'runs/tokenizer/best.safetensors')));
  const n = Number(arg('n', '300'));
  const minArea = Number(arg('min-area', '24'));
  const rng = new SeededRandom(Number(arg('seed', '424242')));
  const scenes: Scene[] = Array.from({ length: n }, () => randomScene(rng, { allowHeldOut: true }));
  const counts = { raw: new Map<Kind, number>(), clean: new Map<Kind, number>() };
  const shapeFailures = new Map<string, number>();
  let okRaw = 0;
  let okClean = 0;
  // Per code: pixel counts of background and of each SPEC colour in the patches it encodes.
  const patchColours = new Map<number, number[]>();
  for (let i = 0; i < n; i += 32) {
    const part = scenes.slice(i, i + 32);
    const x = scenesToTensor(part);
    const codes = model.encodeToCodes(x);
    const y = model.decodeCodes(codes);
    const decoded = tensorToBytes(y);
    countPatchColours(patchColours, part.map((sc) => renderScene(sc)), codes.arraySync() as number[][]);
    tf.dispose([x, codes, y]);
    part.forEach((s, k) => {
      const a = renderScene(s);
      const b = decoded[k]!;
      const c = despecklePalette(b, 64, 64, model.config.palette!, minArea);
      const ka = objectKey(a);
      if (objectKey(b) === ka) okRaw++;
      else {
        const kind = failureKind(a, b);
        counts.raw.set(kind, (counts.raw.get(kind) ?? 0) + 1);
        if (kind === 'shape') {
          const da = detectObjects(a).map((o) => `${o.shape}/${o.color}/${s.objects.find((so) => Math.abs(so.cx - o.cx) < 3 && Math.abs(so.cy - o.cy) < 3)?.size ?? '?'}`).sort();
          const db = detectObjects(b).map((o) => `${o.shape}/${o.color}`).sort();
          const lost = da.filter((x) => !db.includes(x.split('/').slice(0, 2).join('/')));
          shapeFailures.set(lost.join(','), (shapeFailures.get(lost.join(',')) ?? 0) + 1);
        }
      }
      if (objectKey(c) === ka) okClean++;
      else {
        const kind = failureKind(a, c);
        counts.clean.set(kind, (counts.clean.get(kind) ?? 0) + 1);
      }
    });
  }
  log(`raw: agreement ${(okRaw / n).toFixed(3)}; failures ${JSON.stringify(Object.fromEntries(counts.raw))}`);
  log(`shape failures (original objects not kept): ${JSON.stringify([...shapeFailures].sort((a, b) => b[1] - a[1]))}`);
  log(`despeckled (< ${minArea} px): agreement ${(okClean / n).toFixed(3)}; failures ${JSON.stringify(Object.fromEntries(counts.clean))}`);
  log(describePurity(colourPurity(patchColours)));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
