// Draws what colour each code stands for, for one or more tokenizers side by side.
//
// Every code is given the colour mix of all the patches it encodes over a reference set of scenes. Each sheet row
// is one scene: the original, then per tokenizer the 16×16 grid of its codes, each 4×4 patch painted with that
// code's own average colour (background counted as white). Colour-pure codes reproduce the objects' colours on
// their own; codes that leave colour to the decoder's context come out as muddy mixtures.
//
//   node --import tsx scripts/embedded/code-colours.ts --weights A.safetensors,B.safetensors [--n 6] [--out out/code-colours.png]
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, renderScene, type Scene } from '@showo/shapes-world';
import { loadMagvit, type MagvitTokenizer } from '@showo/tokenizer-magvit';
import { WORLD_PALETTE, arg, colourPurity, countPatchColours, log, scenesToTensor } from './common.js';

function encode(tok: MagvitTokenizer, scenes: readonly Scene[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < scenes.length; i += 32) {
    const x = scenesToTensor(scenes.slice(i, i + 32));
    const c = tok.encodeToCodes(x);
    out.push(...(c.arraySync() as number[][]));
    tf.dispose([x, c]);
  }
  return out;
}

async function main(): Promise<void> {
  await initBackend('wasm');
  const files = arg('weights', 'models/shapes-world/magvit/model.safetensors').split(',');
  const n = Number(arg('n', '6'));
  const rng = new SeededRandom(Number(arg('seed', '5')));
  const reference = Array.from({ length: 256 }, () => randomScene(rng, { allowHeldOut: true }));
  const shown = Array.from({ length: n }, () => randomScene(rng, { allowHeldOut: true }));
  const SCALE = 2;
  const CELL = 64 * SCALE + 8;
  const png = new PNG({ width: CELL * (1 + files.length), height: CELL * n });
  png.data.fill(255);
  const put = (col: number, row: number, rgb: ArrayLike<number>): void => {
    for (let y = 0; y < 64 * SCALE; y++)
      for (let x = 0; x < 64 * SCALE; x++) {
        const s = (Math.floor(y / SCALE) * 64 + Math.floor(x / SCALE)) * 3;
        const o = ((row * CELL + y) * png.width + col * CELL + x) * 4;
        for (let c = 0; c < 3; c++) png.data[o + c] = rgb[s + c]!;
        png.data[o + 3] = 255;
      }
  };
  shown.forEach((s, r) => put(0, r, renderScene(s)));
  files.forEach((file, k) => {
    const tok = loadMagvit(path.resolve(file));
    const hist = new Map<number, number[]>();
    countPatchColours(hist, reference.map((s) => renderScene(s)), encode(tok, reference));
    const p = colourPurity(hist);
    log(`${file}: object pixels under one-colour codes ${p.purePixelShare.toFixed(3)} (${p.pure} pure, ${p.mixed} mixed codes)`);
    const mean = (code: number): number[] => {
      const h = hist.get(code) ?? [1, 0, 0, 0, 0, 0, 0];
      const total = h.reduce((a, x) => a + x, 0);
      return [0, 1, 2].map((c) => h.reduce((a, x, i) => a + x * WORLD_PALETTE[i]![c]!, 0) / total);
    };
    encode(tok, shown).forEach((codes, r) => {
      const side = Math.sqrt(codes.length);
      const patch = 64 / side;
      const rgb = new Uint8Array(64 * 64 * 3);
      codes.forEach((code, t) => {
        const m = mean(code);
        for (let y = 0; y < patch; y++)
          for (let x = 0; x < patch; x++) {
            const o = ((Math.floor(t / side) * patch + y) * 64 + (t % side) * patch + x) * 3;
            for (let c = 0; c < 3; c++) rgb[o + c] = Math.round(m[c]!);
          }
      });
      put(1 + k, r, rgb);
    });
    tok.dispose();
  });
  const out = path.resolve(arg('out', 'out/code-colours.png'));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, PNG.sync.write(png));
  log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
