// Draws generated t2i images of the same prompts from several folders (one row per folder, one column per prompt),
// with a green bar under an image that passes the SPEC detector's check of its prompt and a red bar under one that
// does not. Folders hold `<id><suffix>.png` (eval-showo.ts --images writes `<id>-<schedule>-s<steps>-g<w>-t<t>.png`,
// `showo eval --save DIR` writes `DIR/t2i/<id>.png`).
//
//   node --import tsx scripts/embedded/t2i-sheet.ts --rows DIR[:SUFFIX],DIR[:SUFFIX] [--tags single,colors]
//        [--limit 15] [--out out/t2i-sheet.png]
import fs from 'node:fs';
import path from 'node:path';
import { parseT2iJsonl, scoreT2I } from '@showo/shapes-world';
import { writePngFile } from '@showo/showo';
import { decodeImage } from '@showo/tokenizer-magvit';
import { arg, ImageSheet, log } from './common.js';

const SHARED = path.resolve(import.meta.dirname, '../../../shared/shapes-world');

function readRgb(file: string): Uint8Array {
  const img = decodeImage(fs.readFileSync(file), file);
  if (img.width !== 64 || img.height !== 64) throw new Error(`${file} is ${img.width}×${img.height}, not 64×64`);
  return img.data;
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
  const sheet = new ImageSheet(items.length, rows.length);
  rows.forEach((row, r) => {
    let passed = 0;
    items.forEach((item, c) => {
      const img = readRgb(path.join(row.dir, `${item.id}${row.suffix}.png`));
      const pass = scoreT2I(item.expect, img).pass;
      passed += pass ? 1 : 0;
      sheet.draw(img, c, r, pass);
    });
    log(`row ${r + 1}: ${row.dir}${row.suffix ? ` (*${row.suffix}.png)` : ''}: ${passed}/${items.length} pass`);
  });
  writePngFile(out, sheet);
  log(`${items.map((x) => x.prompt).join(' | ')}\n→ ${out}`);
}

main();
