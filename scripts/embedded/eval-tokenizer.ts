// Tokenizer gate: reconstructs held-out scenes (fresh seed, held-out compositions allowed) and the scenes of the
// public mmu file through the tokenizer (encode → codes → decode) and reports PSNR and the share of images whose
// detected objects (SPEC detector: shape, colour, thirds — as multisets) equal the original's.
//
//   node --import tsx scripts/embedded/eval-tokenizer.ts [--weights runs/tokenizer/best.safetensors] [--n 300]
//        [--seed 424242] [--json out.json] [--codebook PATCH_CODEBOOK.json]
//
// --codebook (a tokenizer trained to a patch codebook's codes) also scores its halves apart: the encoder's codes
// decoded exactly by the codebook, and the codebook's exact codes through the decoder, with the share of codes the
// encoder gets right — which half limits the pair.
import fs from 'node:fs';
import path from 'node:path';
import { initBackend, SeededRandom } from '@showo/runtime';
import { parseMmuJsonl, randomScene, type Scene } from '@showo/shapes-world';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { arg, log, tokenizerGate, type GateHalves } from './common.js';
import { loadPatchCodebook } from './patch-codes.js';
import { SHARED } from './showo-common.js';

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'));
  const weights = path.resolve(arg('weights', 'runs/tokenizer/best.safetensors'));
  const n = Number(arg('n', '300'));
  const model = loadMagvit(weights);
  const rng = new SeededRandom(Number(arg('seed', '424242')));
  const fresh: Scene[] = Array.from({ length: n }, () => randomScene(rng, { allowHeldOut: true }));
  const mmuScenes = parseMmuJsonl(fs.readFileSync(path.join(SHARED, 'mmu-public.jsonl'), 'utf8')).map((x) => x.scene as unknown as Scene);
  const codebookFile = arg('codebook', '');
  const codebook = codebookFile ? loadPatchCodebook(path.resolve(codebookFile)) : undefined;
  // With a codebook the pair's own run also counts the codes the encoder gets right.
  const pair: GateHalves | undefined = codebook ? { codebook, half: 'pair' } : undefined;
  const a = tokenizerGate(model, fresh, 32, pair);
  const b = tokenizerGate(model, mmuScenes, 32, pair);
  const all = { n: a.n + b.n, agreement: (a.agreement * a.n + b.agreement * b.n) / (a.n + b.n) };
  log(`${weights}: ${model.parameterCount()} parameters`);
  log(`fresh held-out scenes (${a.n}): agreement ${a.agreement.toFixed(3)}, PSNR ${a.psnr.toFixed(2)} dB, exact ${a.exact.toFixed(3)}, codes used ${a.codesUsed}`);
  log(`mmu-public scenes (${b.n}): agreement ${b.agreement.toFixed(3)}, PSNR ${b.psnr.toFixed(2)} dB, exact ${b.exact.toFixed(3)}`);
  log(`all (${all.n}): agreement ${all.agreement.toFixed(3)}`);
  for (const f of a.failures.slice(0, 8)) log(`  ${f.original}  ->  ${f.decoded}`);
  const halvesOf: Record<string, unknown> = {};
  if (codebook) {
    for (const half of ['pair', 'encoder', 'decoder'] as const) {
      const scored = half === 'pair' ? [a, b] : [tokenizerGate(model, fresh, 32, { codebook, half }), tokenizerGate(model, mmuScenes, 32, { codebook, half })];
      const n = scored[0]!.n + scored[1]!.n;
      const agreement = (scored[0]!.agreement * scored[0]!.n + scored[1]!.agreement * scored[1]!.n) / n;
      const codeAccuracy = (scored[0]!.codeAccuracy! * scored[0]!.n + scored[1]!.codeAccuracy! * scored[1]!.n) / n;
      halvesOf[half] = { agreement, codeAccuracy, fresh: scored[0]!.agreement, mmu: scored[1]!.agreement };
      const what = half === 'pair' ? 'encoder → decoder' : half === 'encoder' ? 'encoder → exact decode' : 'exact codes → decoder';
      log(`${what} (${n}): agreement ${agreement.toFixed(3)} (fresh ${scored[0]!.agreement.toFixed(3)}, mmu-public ${scored[1]!.agreement.toFixed(3)}), codes equal to the codebook's ${codeAccuracy.toFixed(4)}`);
    }
  }
  const out = arg('json', '');
  if (out) fs.writeFileSync(out, JSON.stringify({ weights, fresh: { ...a, failures: a.failures.slice(0, 10) }, mmu: { ...b, failures: b.failures.slice(0, 10) }, all, halves: halvesOf }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
