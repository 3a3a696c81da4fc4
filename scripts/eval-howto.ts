// Scores a model folder on how-to sequences in guided mode (the SPEC's scored mode): for every item the model is
// given the question and step 1's text and draws keyframe 1, then step 2's text and draws keyframe 2, … (the
// sampler's `howto` pipeline through the facade), and the Shapes World detector checks every keyframe.
//
//   node --import tsx scripts/eval-howto.ts [--model models/shapes-world] [--file ../shared/shapes-world/howto-public.jsonl]
//        [--steps N] [--cfg W] [--temperature T] [--seed 0] [--limit N] [--backend auto] [--save DIR] [--json FILE]
//
// Prints step and sequence accuracy (overall and by sequence length), the failure kinds of each step position
// (step 1, 2, 3), and one line per failed sequence. Milestone: steps ≥ 0.40, sequences ≥ 0.25.
import fs from 'node:fs';
import path from 'node:path';
import { evaluateHowto, formatAccuracyTable, formatFailureTable, parseHowtoJsonl, type FailureCounts, type FailureKind } from '@showo/shapes-world';
import { createShowo, defaultModelDir, writePngFile } from '@showo/showo';
import type { BackendName } from '@showo/runtime';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));

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
  const request = {
    ...(num('steps') !== undefined ? { steps: num('steps')! } : {}),
    ...(num('cfg') !== undefined ? { guidanceScale: num('cfg')! } : {}),
    ...(num('temperature') !== undefined ? { temperature: num('temperature')! } : {}),
    seed: num('seed') ?? 0,
  };
  const showo = await createShowo({ model: modelDir, backend: (arg('backend') ?? 'auto') as BackendName, log: (l) => console.error(l) });
  const frames = new Map<string, Uint8Array[]>();
  const t0 = Date.now();
  try {
    for (const [i, item] of items.entries()) {
      const result = await showo.howto(item.question, item.steps.map((s) => s.text), request).result();
      frames.set(item.id, result.steps.map((s) => (s.image ? Uint8Array.from(s.image.data) : new Uint8Array(0))));
      if (save) result.steps.forEach((s, k) => s.image && writePngFile(path.join(save, item.id, `step-${k + 1}.png`), s.image));
      if ((i + 1) % 5 === 0 || i + 1 === items.length) console.error(`${i + 1}/${items.length} sequences (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
  } finally {
    await showo.dispose();
  }

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
