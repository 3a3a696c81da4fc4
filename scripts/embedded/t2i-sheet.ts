// Draws generated t2i images of the same prompts from several folders (one row per folder, one column per prompt),
// with a green bar under an image that passes the SPEC detector's check of its prompt and a red bar under one that
// does not. Folders hold `<id><suffix>.png` (eval-showo.ts --images writes `<id>-<schedule>-s<steps>-g<w>-t<t>.png`,
// `showo eval --save DIR` writes `DIR/t2i/<id>.png`).
//
//   node --import tsx scripts/embedded/t2i-sheet.ts --rows DIR[:SUFFIX],DIR[:SUFFIX] [--tags single,colors]
//        [--limit 15] [--out out/t2i-sheet.png]
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { parseT2iJsonl, scoreT2I } from '@showo/shapes-world';
import { writePngFile } from '@showo/showo';
import { arg, log } from './common.js';

const SHARED = path.resolve(import.meta.dirname, '../../../shared/shapes-world');

function readRgb(file: string): Uint8Array {
  const png = PNG.sync.read(fs.readFileSync(file));
  if (png.width !== 64 || png.height !== 64) throw new Error(`${file} is ${png.width}×${png.height}, not 64×64`);
  const rgb = new Uint8Array(64 * 64 * 3);
  for (let i = 0; i < 64 * 64; i++) rgb.set(png.data.subarray(i * 4, i * 4 + 3), i * 3);
  return rgb;
}

function main(): void {
  const rows = arg('rows', '')
    .split(',')
    .filter(Boolean)
    .map((spec) => {
      const [dir, suffix = ''] = spec.split(':');
      return { dir: path.resolve(dir!), suffix };
    });
  if (rows.length === 0) throw new Error('--rows DIR[:SUFFIX],… is required');
  const tags = arg('tags', '') ? new Set(arg('tags', '').split(',')) : undefined;
  const items = parseT2iJsonl(fs.readFileSync(path.join(SHARED, 't2i-public.jsonl'), 'utf8'))
    .filter((x) => !tags || tags.has(x.tag))
    .slice(0, Number(arg('limit', '15')));
  const out = path.resolve(arg('out', 'out/t2i-sheet.png'));
  const S = 2;
  const cell = 64 * S + 6;
  const W = cell * items.length;
  const H = cell * rows.length;
  const data = new Uint8Array(W * H * 3).fill(255);
  rows.forEach((row, r) => {
    let passed = 0;
    items.forEach((item, c) => {
      const img = readRgb(path.join(row.dir, `${item.id}${row.suffix}.png`));
      const pass = scoreT2I(item.expect, img).pass;
      passed += pass ? 1 : 0;
      for (let y = 0; y < 64 * S; y++) {
        for (let x = 0; x < 64 * S; x++) {
          const s = (Math.floor(y / S) * 64 + Math.floor(x / S)) * 3;
          data.set(img.subarray(s, s + 3), ((r * cell + y) * W + c * cell + x) * 3);
        }
      }
      for (let y = 64 * S + 1; y < 64 * S + 4; y++) {
        for (let x = 0; x < 64 * S; x++) data.set(pass ? [40, 170, 60] : [220, 40, 40], ((r * cell + y) * W + c * cell + x) * 3);
      }
    });
    log(`row ${r + 1}: ${row.dir}${row.suffix ? ` (*${row.suffix}.png)` : ''}: ${passed}/${items.length} pass`);
  });
  writePngFile(out, { width: W, height: H, data });
  log(`${items.map((x) => x.prompt).join(' | ')}\n→ ${out}`);
}

main();
