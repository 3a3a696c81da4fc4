import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Rng,
  mmuItemFromSample,
  renderScene,
  howtoItemFromSample,
  sampleHowto,
  sampleMmu,
  sampleT2i,
  sceneForExpect,
  t2iItemFromSample,
} from '@showo/shapes-world';
import { writePngFile } from '@showo/showo';
import { decodeImage } from '@showo/tokenizer-magvit';
import { runCli, tempDir, tinyBundle, writeLines } from './helpers.js';

const canvas = (data: Uint8Array) => ({ width: 64, height: 64, data });

test('t2i writes a 64×64 PNG', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'a.png');
  const r = await runCli(['t2i', 'a red circle', '--out', out, '--model', await tinyBundle(), '--steps', '3', '--cfg', '1.5', '--temperature', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*a\.png/);
  assert.match(r.stderr, /t2i 3\/3/, 'a progress bar fed by the step events');
  const img = decodeImage(fs.readFileSync(out));
  assert.deepEqual([img.width, img.height], [64, 64]);
  // Best of 3 by the model's own caption likelihood, sharpened codes: still one 64×64 image.
  const best = path.join(dir, 'b.png');
  const r3 = await runCli(['t2i', 'a red circle', '--out', best, '--model', await tinyBundle(), '--steps', '2', '--rerank', '3', '--code-temperature', '0.5']);
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual([decodeImage(fs.readFileSync(best)).width, decodeImage(fs.readFileSync(best)).height], [64, 64]);
});

test('t2i --prompts writes <out>/<id>.png for every line', async () => {
  const dir = tempDir();
  const rng = new Rng(3);
  const items = Array.from({ length: 3 }, (_, i) => t2iItemFromSample(sampleT2i(rng), `t2i-${i}`));
  const file = writeLines(path.join(dir, 't2i.jsonl'), items);
  const out = path.join(dir, 'images');
  const r = await runCli(['t2i', '--prompts', file, '--out', out, '--model', await tinyBundle(), '--steps', '2', '--batch', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(out).sort(), ['t2i-0.png', 't2i-1.png', 't2i-2.png']);
});

test('mmu answers a question (stdout: the answer) and a questions file (answers JSONL)', async () => {
  const dir = tempDir();
  const model = await tinyBundle();
  const image = path.join(dir, 'scene.png');
  writePngFile(image, canvas(renderScene({ objects: [{ shape: 'circle', color: 'red', size: 'large', cx: 32, cy: 32 }] })));
  const one = await runCli(['mmu', image, 'what color is the circle?', '--model', model, '--max-tokens', '4']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout.split('\n').filter(Boolean).length, 1, 'exactly the answer on stdout');
  const beams = await runCli(['mmu', image, 'what color is the circle?', '--model', model, '--max-tokens', '4', '--beams', '3']);
  assert.equal(beams.code, 0, beams.stderr);
  assert.equal(beams.stdout.split('\n').filter(Boolean).length, 1, 'beam search prints one answer too');

  const rng = new Rng(4);
  const items = Array.from({ length: 3 }, (_, i) => mmuItemFromSample(sampleMmu(rng), `mmu-${i}`));
  const file = writeLines(path.join(dir, 'mmu.jsonl'), items);
  const answers = path.join(dir, 'answers.jsonl');
  const r = await runCli(['mmu', '--questions', file, '--out', answers, '--model', model, '--max-tokens', '3']);
  assert.equal(r.code, 0, r.stderr);
  const lines = fs.readFileSync(answers, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id), ['mmu-0', 'mmu-1', 'mmu-2']);
  for (const l of lines) assert.equal(typeof l.answer, 'string');
  const toStdout = await runCli(['mmu', '--questions', file, '--model', model, '--max-tokens', '2']);
  assert.equal(toStdout.stdout.trim().split('\n').length, 3);
});

test('eval scores ideal images 100% and blank images 0%, per tag, as tables or JSON', async () => {
  const dir = tempDir();
  const rng = new Rng(9);
  const items = Array.from({ length: 8 }, (_, i) => t2iItemFromSample(sampleT2i(rng), `t2i-${i}`));
  const file = writeLines(path.join(dir, 't2i.jsonl'), items);
  const ideal = path.join(dir, 'ideal');
  const blank = path.join(dir, 'blank');
  for (const item of items) {
    writePngFile(path.join(ideal, `${item.id}.png`), canvas(renderScene(sceneForExpect(item.expect, rng))));
    writePngFile(path.join(blank, `${item.id}.png`), canvas(new Uint8Array(64 * 64 * 3).fill(255)));
  }
  const good = await runCli(['eval', '--t2i', file, '--images', ideal, '--json']);
  assert.equal(good.code, 0, good.stderr);
  const report = JSON.parse(good.stdout);
  assert.equal(report.t2i.overall.accuracy, 1);
  assert.equal(report.t2i.overall.total, 8);
  for (const tag of new Set(items.map((i) => i.tag))) assert.equal(report.t2i.byTag[tag].accuracy, 1, tag);

  const bad = await runCli(['eval', '--t2i', file, '--images', blank]);
  assert.equal(bad.code, 0, bad.stderr);
  assert.match(bad.stdout, /\| all \| 0\/8 \| 0\.0% \|/);
  assert.match(bad.stdout, /\| missing object \| 8 \|/);
  const strict = await runCli(['eval', '--t2i', file, '--images', blank, '--min-accuracy', '0.5', '--json']);
  assert.equal(strict.code, 1, '--min-accuracy fails a low score');
  assert.equal(JSON.parse(strict.stdout).t2i.overall.accuracy, 0);

  // A missing image scores as "no output".
  fs.rmSync(path.join(ideal, 't2i-0.png'));
  const partial = JSON.parse((await runCli(['eval', '--t2i', file, '--images', ideal, '--json'])).stdout);
  assert.equal(partial.t2i.overall.passed, 7);
  assert.equal(partial.t2i.failures['no output'], 1);
});

test('eval scores answers files and how-to keyframes; correct outputs give 100%', async () => {
  const dir = tempDir();
  const rng = new Rng(12);
  const mmu = Array.from({ length: 6 }, (_, i) => mmuItemFromSample(sampleMmu(rng), `mmu-${i}`));
  const mmuFile = writeLines(path.join(dir, 'mmu.jsonl'), mmu);
  const answers = writeLines(
    path.join(dir, 'answers.jsonl'),
    mmu.map((m, i) => ({ id: m.id, answer: i === 0 ? 'purple elephant' : `${m.answer.toUpperCase()}.` })),
  );
  const howto = Array.from({ length: 3 }, (_, i) => howtoItemFromSample(sampleHowto(rng), `howto-${i}`));
  const howtoFile = writeLines(path.join(dir, 'howto.jsonl'), howto);
  const frames = path.join(dir, 'frames');
  // Both namings: <id>-<n>.png and <id>/step-<n>.png (what `howto --guided` writes).
  howto.forEach((h, i) =>
    h.steps.forEach((s, k) => writePngFile(path.join(frames, i === 1 ? path.join(h.id, `step-${k + 1}.png`) : `${h.id}-${k + 1}.png`), canvas(renderScene(s.scene)))),
  );
  const r = await runCli(['eval', '--mmu', mmuFile, '--answers', answers, '--howto', howtoFile, '--keyframes', frames, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.mmu.overall.passed, 5, 'answers compare trimmed, lower-cased, trailing period ignored');
  assert.equal(report.mmu.failures['malformed answer'], 1);
  assert.equal(report.howto.sequences.accuracy, 1);
  assert.equal(report.howto.steps.total, howto.reduce((a, h) => a + h.steps.length, 0));
  const table = await runCli(['eval', '--mmu', mmuFile, '--answers', answers]);
  assert.match(table.stdout, /\| question \| passed \| accuracy \|/);
});

test('eval generates on the fly when no outputs are given (and keeps them with --save)', async () => {
  const dir = tempDir();
  const rng = new Rng(5);
  const t2i = Array.from({ length: 2 }, (_, i) => t2iItemFromSample(sampleT2i(rng), `g-${i}`));
  const mmu = Array.from({ length: 2 }, (_, i) => mmuItemFromSample(sampleMmu(rng), `m-${i}`));
  const howto = [howtoItemFromSample(sampleHowto(rng), 'h-0')];
  const save = path.join(dir, 'saved');
  const r = await runCli([
    'eval',
    '--t2i', writeLines(path.join(dir, 't2i.jsonl'), t2i),
    '--mmu', writeLines(path.join(dir, 'mmu.jsonl'), mmu),
    '--howto', writeLines(path.join(dir, 'howto.jsonl'), howto),
    '--model', await tinyBundle(),
    '--steps', '2',
    '--save', save,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.t2i.overall.total, 2);
  assert.equal(report.mmu.overall.total, 2);
  assert.equal(report.howto.sequences.total, 1);
  assert.deepEqual(fs.readdirSync(path.join(save, 't2i')).sort(), ['g-0.png', 'g-1.png']);
  assert.equal(fs.readFileSync(path.join(save, 'answers.jsonl'), 'utf8').trim().split('\n').length, 2);
  assert.equal(fs.readdirSync(path.join(save, 'howto')).length, howto[0]!.steps.length);
});

test('inpaint (--box and --mask), extrapolate and edit write PNGs of the expected sizes', async () => {
  const dir = tempDir();
  const model = await tinyBundle();
  const image = path.join(dir, 'in.png');
  writePngFile(image, canvas(renderScene({ objects: [{ shape: 'square', color: 'blue', size: 'large', cx: 20, cy: 32 }] })));
  const mask = path.join(dir, 'mask.png');
  const m = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let x = 32; x < 64; x++) m.fill(255, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
  writePngFile(mask, canvas(m));
  const runs: Array<[string[], number, number]> = [
    [['inpaint', image, 'a red circle', '--box', '32,0,32,64'], 64, 64],
    [['inpaint', image, 'a red circle', '--mask', mask], 64, 64],
    [['extrapolate', image, 'a red circle', '--direction', 'down', '--amount', '16'], 64, 80],
    [['edit', image, 'a red circle', '--strength', '0.3'], 64, 64],
  ];
  for (const [argv, w, h] of runs) {
    const out = path.join(dir, `${argv[0]}-${w}x${h}.png`);
    const r = await runCli([...argv, '--out', out, '--model', model, '--steps', '2']);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    const img = decodeImage(fs.readFileSync(out));
    assert.deepEqual([img.width, img.height], [w, h], argv.join(' '));
  }
});

test('demo writes out/demo.png and out/demo.json and says where', async () => {
  const dir = tempDir();
  const r = await runCli(['demo', '--model', await tinyBundle(), '--out', dir, '--steps', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*demo\.png and .*demo\.json/);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'demo.json'), 'utf8'));
  assert.equal(json.prompt, 'a red circle');
  assert.equal(typeof json.answer, 'string');
  assert.deepEqual(Object.keys(json.ms).sort(), ['answer', 't2i', 'total']);
  assert.equal(decodeImage(fs.readFileSync(path.join(dir, 'demo.png'))).width, 64);
});

test('bench --quick times the model; inspect lists a checkpoint', async () => {
  const model = await tinyBundle();
  const b = await runCli(['bench', '--quick', '--model', model, '--repeat', '1', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const result = JSON.parse(b.stdout);
  assert.ok(result.maskgitStepMs > 0);
  const i = await runCli(['inspect', path.join(model, 'showo')]);
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /showo\.model\.embed_tokens\.weight/);
});

test('train runs a stage with a progress bar, refuses to overwrite checkpoints without --resume, and resumes', async () => {
  const dir = tempDir();
  const model = await tinyBundle();
  const config = {
    name: 'tiny-stage1',
    stage: 1,
    seed: 1,
    output: 'stage1',
    initFrom: null,
    data: { batch: { t2i: 1, lm: 1, mmu: 1 }, t2iMix: { class: 1 }, mmuMix: { caption: 1 }, howto: null },
    loss: { t2i: 1, lm: 0.1, mmu: 1 },
    optimizer: { weightDecay: 0.01 },
    schedule: { kind: 'constant', lr: 0.001 },
    totalSteps: 2,
    gradAccumSteps: 1,
    clipGradNorm: 1,
    checkpoint: { everySteps: 1, keepLast: 1 },
  };
  const file = path.join(dir, 'stage.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const runs = path.join(dir, 'runs');
  const bundle = path.join(dir, 'trained');
  const r = await runCli(['train', '--config', file, '--out', runs, '--model', model, '--backend', 'wasm', '--bundle', bundle]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /stage 1 2\/2 loss \d/);
  assert.match(r.stdout, /tiny-stage1: completed 2 steps/);
  assert.ok(fs.existsSync(path.join(runs, 'stage1', 'model', 'model.safetensors')));
  assert.ok(fs.existsSync(path.join(bundle, 'showo', 'model.safetensors')), 'a complete model folder');
  const again = await runCli(['train', '--config', file, '--out', runs, '--model', model]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds checkpoints.*--resume/);
  const resumed = await runCli(['train', '--config', file, '--out', runs, '--model', model, '--resume', '--total-steps', '3', '--backend', 'wasm']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from/);
  const mismatch = await runCli(['train', '--stage', '2', '--config', file, '--out', runs, '--model', model]);
  assert.equal(mismatch.code, 2);
});
