// Builds the exact patch codebook of Shapes World (`PatchCodebook` of @showo/tokenizer-magvit): every 4×4
// foreground mask seen in --n rendered training scenes (how-to keyframes included) gets a slot, the palette class
// takes the top bits. Reports how many masks there are and how well decode(encode(scene)) keeps the SPEC
// detector's objects on the standard 450 evaluation scenes (300 fresh held-out-allowed scenes, seed 424242, and the
// 150 of the public mmu file) — the ceiling of a tokenizer trained to these codes.
//
//   node --import tsx scripts/embedded/make-patch-codebook.ts --out runs/patch-codebook.json [--n 4000] [--bits 11] [--seed 7] [--geometric]
import fs from 'node:fs';
import path from 'node:path';
import { SeededRandom } from '@showo/runtime';
import { parseMmuJsonl, randomScene, renderScene, sampleHowto, type Scene } from '@showo/shapes-world';
import { PatchCodebook } from '@showo/tokenizer-magvit';
import { WORLD_PALETTE, arg, log, objectKey } from './common.js';
import { SHARED } from './showo-common.js';

const out = path.resolve(arg('out', 'runs/patch-codebook.json'));
const n = Number(arg('n', '4000'));
const rng = new SeededRandom(Number(arg('seed', '7')));
function* images() {
  for (let i = 0; i < n; i++) {
    const scene = i % 5 === 4 ? sampleHowto(rng).steps[0]!.scene : randomScene(rng, { allowHeldOut: false });
    yield { width: 64, height: 64, data: renderScene(scene) };
  }
}
const byFrequency = PatchCodebook.fromImages(images(), { patch: 4, palette: WORLD_PALETTE, codebookDim: Number(arg('bits', '11')) });
// --geometric: slots numbered by a PCA tree of the masks (withGeometricSlots), so that mask bits carry geometry.
const codebook = process.argv.includes('--geometric') ? byFrequency.withGeometricSlots() : byFrequency;
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(codebook.toJSON()));
log(`${codebook.masks.filter((m) => m !== 0).length} partial masks in ${codebook.masks.length} slots, ${codebook.colourBits} colour bits + ${codebook.maskBits} mask bits → ${out}`);

const evalRng = new SeededRandom(424242);
const fresh: Scene[] = Array.from({ length: 300 }, () => randomScene(evalRng, { allowHeldOut: true }));
const mmu = parseMmuJsonl(fs.readFileSync(path.join(SHARED, 'mmu-public.jsonl'), 'utf8')).map((x) => x.scene as unknown as Scene);
for (const [name, scenes] of [['fresh', fresh], ['mmu-public', mmu]] as const) {
  let agree = 0;
  let exact = 0;
  for (const s of scenes) {
    const img = renderScene(s);
    const back = codebook.decode(codebook.encode({ width: 64, height: 64, data: img }), [16, 16]).data;
    if (objectKey(img) === objectKey(back)) agree++;
    if (img.every((v, i) => v === back[i])) exact++;
  }
  log(`${name} (${scenes.length}): detector agreement ${(agree / scenes.length).toFixed(3)}, pixel-exact ${(exact / scenes.length).toFixed(3)}`);
}
