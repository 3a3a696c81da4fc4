// Scores a model folder on how-to sequences in guided mode (the SPEC's scored mode): for every item the model is
// given the question and step 1's text and draws keyframe 1, then step 2's text and draws keyframe 2, … (the
// sampler's `howto` pipeline on the loaded model folder), and the Shapes World detector checks every keyframe.
//
//   node --import tsx scripts/eval-howto.ts [--model models/shapes-world] [--file ../shared/shapes-world/howto-public.jsonl]
//        [--steps N] [--cfg W] [--temperature T] [--seed 0] [--limit N] [--backend auto] [--save DIR] [--json FILE]
//        [--max-positions N] [--no-cache]
//
// Settings default to the model folder's `generation` block (its `howto` part when it has one). Like training, an
// over-long `question + step 1` is cut to max_text_len the official way. The position budget defaults to the
// longest sequence of the file: the embedded model is trained on how-to sequences longer than its config's
// max_position_embeddings (informational for Phi: the rotary embedding extends past it).
//
// Prints step and sequence accuracy (overall and by sequence length), the failure kinds of each step position
// (step 1, 2, 3), and one line per failed sequence. Milestone: steps ≥ 0.40, sequences ≥ 0.25.
import fs from 'node:fs';
import path from 'node:path';
import { evaluateHowto, formatAccuracyTable, formatFailureTable, parseHowtoJsonl, type FailureCounts, type FailureKind } from '@showo/shapes-world';
import { initBackend, type BackendName } from '@showo/runtime';
import { TokenLayout, UniversalPrompting } from '@showo/prompting';
import { howto, howtoResult, magvitCodec, type HowtoPipelineDeps } from '@showo/sampler';
import { defaultModelDir, loadModelBundle, writePngFile } from '@showo/showo';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));

/** Positions of a guided sequence: max_text_len, then per step its keyframe block, and `BOS text EOS` after step 1. */
function longest(p: UniversalPrompting, question: string, steps: readonly string[]): number {
  const texts = p.encodeTexts(steps.slice(1));
  return p.maxTextLen + steps.length * (p.numVqTokens + 2) + texts.reduce((s, t) => s + t.length + 2, 0);
}

async function main(): Promise<void> {
  const modelDir = path.resolve(arg('model') ?? defaultModelDir());
  const file = path.resolve(arg('file') ?? path.join(ROOT, '..', 'shared', 'shapes-world', 'howto-public.jsonl'));
  if (!fs.existsSync(modelDir)) {
    console.error(`eval-howto: no model at ${modelDir} (train one, or pass --model DIR): not measured`);
    process.exitCode = 2;
    return;
  }
  let items = parseHowtoJsonl(fs.readFileSync(file, 'utf8'), { source: file });
  const limit = num('limit');
  if (limit !== undefined) items = items.slice(0, limit);
  const save = arg('save');
  const request: { steps?: number; guidanceScale?: number; temperature?: number; seed: number } = {
    ...(num('steps') !== undefined ? { steps: num('steps')! } : {}),
    ...(num('cfg') !== undefined ? { guidanceScale: num('cfg')! } : {}),
    ...(num('temperature') !== undefined ? { temperature: num('temperature')! } : {}),
    seed: num('seed') ?? 0,
  };
  await initBackend((arg('backend') ?? 'auto') as BackendName, { log: (l) => console.error(l) });
  const loaded = await loadModelBundle(modelDir);
  const { bundle } = loaded;
  const defaults = bundle.generation.howto;
  const settings = {
    steps: request.steps ?? defaults.steps,
    guidanceScale: request.guidanceScale ?? defaults.guidanceScale,
    temperature: request.temperature ?? defaults.temperature,
    schedule: defaults.schedule,
    seed: request.seed,
    truncatePrompts: true,
  };
  const prompting = new UniversalPrompting(new TokenLayout(bundle.layoutOptions), bundle.prompting, bundle.text.tokenizer);
  const deps: HowtoPipelineDeps = {
    model: loaded.model,
    prompting,
    codec: magvitCodec(loaded.magvit),
    grid: bundle.grid,
    cache: process.argv.includes('--no-cache') ? 'none' : 'auto',
    maxPositions: num('max-positions') ?? Math.max(bundle.showo.config.max_position_embeddings, ...items.map((i) => longest(prompting, i.question, i.steps.map((s) => s.text)))),
  };
  if (deps.maxPositions! > bundle.showo.config.max_position_embeddings) {
    console.error(`note: sequences up to ${deps.maxPositions} positions (the config says max_position_embeddings ${bundle.showo.config.max_position_embeddings})`);
  }
  const frames = new Map<string, Uint8Array[]>();
  const t0 = Date.now();
  try {
    for (const [i, item] of items.entries()) {
      const result = await howtoResult(howto(deps, { question: item.question, stepTexts: item.steps.map((s) => s.text), ...settings }));
      frames.set(item.id, result!.steps.map((s) => (s.image ? Uint8Array.from(s.image.data) : new Uint8Array(0))));
      if (save) result!.steps.forEach((s, k) => s.image && writePngFile(path.join(save, item.id, `step-${k + 1}.png`), s.image));
      if ((i + 1) % 5 === 0 || i + 1 === items.length) console.error(`${i + 1}/${items.length} sequences (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
  } finally {
    loaded.dispose();
  }
  Object.assign(request, { steps: settings.steps, guidanceScale: settings.guidanceScale, temperature: settings.temperature });

  const report = evaluateHowto(items, (item) => frames.get(item.id));
  const pct = (a: { passed: number; total: number; accuracy: number }) => `${a.passed}/${a.total} = ${(100 * a.accuracy).toFixed(1)}%`;
  console.log(`model ${modelDir}\nfile  ${file} (${items.length} sequences, ${request.steps ?? 'default'} MaskGIT steps, cfg ${request.guidanceScale ?? 'default'})`);
  console.log(`\nsteps     ${pct(report.steps)}   (milestone ≥ 40%)\nsequences ${pct(report.sequences)}   (milestone ≥ 25%)\n`);
  console.log(formatAccuracyTable('steps in sequence', report.byLength, report.sequences));
  console.log(`\nfailure kinds (all keyframes)\n${formatFailureTable(report.failures)}`);
  // Per step position: does the model lose the scene as the sequence grows?
  const byPosition: FailureCounts[] = [];
  const totals: number[] = [];
  report.items.forEach((r) =>
    r.steps.forEach((s, k) => {
      byPosition[k] ??= {};
      totals[k] = (totals[k] ?? 0) + 1;
      if (s.failure) byPosition[k]![s.failure] = (byPosition[k]![s.failure] ?? 0) + 1;
    }),
  );
  byPosition.forEach((f, k) => {
    const failed = Object.values(f).reduce((a, b) => a + (b ?? 0), 0);
    const kinds = Object.entries(f)
      .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
    console.log(`step ${k + 1}: ${totals[k]! - failed}/${totals[k]} pass${kinds ? ` — failures: ${kinds}` : ''}`);
  });
  console.log('\nfailed sequences:');
  for (const [i, r] of report.items.entries()) {
    if (r.pass) continue;
    const steps = r.steps.map((s, k) => {
      const found = s.detected.map((d) => `${d.color} ${d.shape}`).join(' + ') || 'nothing';
      return `  step ${k + 1} ${s.pass ? 'ok' : `✗ ${s.failure as FailureKind}`} (found: ${found}) — ${items[i]!.steps[k]!.text}`;
    });
    console.log(`${r.id}: ${items[i]!.question}\n${steps.join('\n')}`);
  }
  const json = arg('json');
  if (json) {
    fs.writeFileSync(json, JSON.stringify({ model: modelDir, file, request, steps: report.steps, sequences: report.sequences, byLength: report.byLength, failures: report.failures, byPosition }, null, 2) + '\n');
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
