import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, tempDir, tinyBundle, writeLines } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'showo.js');

test('usage errors print usage and exit 2', async () => {
  const cases: string[][] = [
    [],
    ['nope'],
    ['t2i', '--bogus'],
    ['t2i', 'a', 'b'],
    ['t2i'],
    ['t2i', 'a red circle', '--seed', 'abc'],
    ['t2i', 'a red circle', '--steps', '0'],
    ['t2i', 'a red circle', '--rerank', '0'],
    ['t2i', 'a red circle', '--code-temperature', '-1'],
    ['inpaint', 'a.png', 'a red circle', '--box', '1,2,3,4', '--rerank', '2'],
    ['t2i', 'a red circle', '--backend', 'gpu'],
    ['mmu', 'image.png'],
    ['mmu', 'image.png', 'what color is the circle?', '--beams', '0'],
    ['mmu', 'image.png', 'what color is the circle?', '--beams', '2', '--temperature', '0.5'],
    ['inpaint', 'a.png', 'a red circle'],
    ['inpaint', 'a.png', 'a red circle', '--box', '1,2,3'],
    ['extrapolate', 'a.png', 'a red circle'],
    ['edit', 'a.png', 'a red circle', '--strength', '2'],
    ['eval'],
    ['eval', '--images', 'dir'],
    ['train'],
    ['train', '--stage', '4'],
  ];
  for (const argv of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `showo ${argv.join(' ')} → ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /Usage: showo/, `showo ${argv.join(' ')} prints usage`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const c of ['t2i', 'mmu', 'inpaint', 'extrapolate', 'edit', 'eval', 'conformance', 'inspect', 'demo', 'bench', 'train']) assert.match(help.stdout, new RegExp(`\\n  ${c} `));
});

test('missing or unreadable files and bad model folders are one line, exit 1', async () => {
  const dir = tempDir();
  const model = await tinyBundle();
  const incomplete = path.join(dir, 'incomplete');
  fs.cpSync(model, incomplete, { recursive: true });
  fs.rmSync(path.join(incomplete, 'magvit', 'model.safetensors'));
  const notImage = path.join(dir, 'not-an-image.png');
  fs.writeFileSync(notImage, 'hello');
  const cases: Array<[string[], RegExp]> = [
    [['mmu', path.join(dir, 'missing.png'), 'what color is the circle?', '--model', model], /cannot read image .*missing\.png: no such file/],
    [['mmu', notImage, 'what color is the circle?', '--model', model], /not-an-image\.png: not a PNG or JPEG/],
    [['t2i', '--prompts', path.join(dir, 'missing.jsonl'), '--model', model], /cannot read prompts file .*missing\.jsonl: no such file/],
    [['mmu', '--questions', dir, '--model', model], /cannot read questions file .*: it is a folder/],
    [['eval', '--t2i', path.join(dir, 'missing.jsonl'), '--images', dir], /missing\.jsonl: no such file/],
    [['inpaint', notImage, 'a red circle', '--box', '0,0,8,8', '--model', model], /not a PNG or JPEG/],
    [['t2i', 'a red circle', '--model', path.join(dir, 'nowhere')], /model folder .*nowhere does not exist/],
    [['t2i', 'a red circle', '--model', incomplete], /not a complete embedded Show-o model folder: missing magvit\/model\.safetensors/],
    [['inspect', path.join(dir, 'nothing.safetensors')], /does not exist/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 1, `showo ${argv.join(' ')} → ${r.code}\n${r.stderr}`);
    assert.equal(r.errLines.length, 1, `one line for showo ${argv.join(' ')}:\n${r.stderr}`);
    assert.match(r.errLines[0]!, /^showo: /);
    assert.match(r.errLines[0]!, message);
  }
});

test('a missing default model names SHOWO_MODEL; demo falls back to the backend check in one line', async () => {
  const saved = process.env.SHOWO_MODEL;
  process.env.SHOWO_MODEL = path.join(tempDir(), 'not-installed');
  try {
    const r = await runCli(['t2i', 'a red circle']);
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1);
    assert.match(r.errLines[0]!, /no model: .*not installed.*--model DIR or set SHOWO_MODEL/);
    const demo = await runCli(['demo', '--backend', 'wasm']);
    assert.equal(demo.code, 0, demo.stderr);
    const lines = demo.stdout.trim().split('\n');
    assert.match(lines[0]!, /the embedded Shapes World model is not installed at .*not-installed.*running the backend check instead/);
    assert.match(demo.stdout, /tensor check on wasm: .* ok/);
  } finally {
    if (saved === undefined) delete process.env.SHOWO_MODEL;
    else process.env.SHOWO_MODEL = saved;
  }
});

test('malformed JSONL lines are reported with their numbers; the rest is processed; exit 1', async () => {
  const dir = tempDir();
  const model = await tinyBundle();
  const prompts = writeLines(path.join(dir, 't2i.jsonl'), [
    { id: 'a', prompt: 'a red circle', tag: 'single', expect: { objects: [{ shape: 'circle', color: 'red' }] } },
    '{"id": "b", "prompt": ',
    { id: 'c', prompt: 'a blue square', tag: 'single', expect: { objects: [{ shape: 'square', color: 'blue' }] } },
    { id: 'd', prompt: 'a green thing', tag: 'single', expect: { objects: [{ shape: 'blob', color: 'green' }] } },
  ]);
  const out = path.join(dir, 'images');
  const r = await runCli(['t2i', '--prompts', prompts, '--out', out, '--model', model, '--steps', '2']);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.errLines.some((l) => l.startsWith(`showo: ${prompts}:2: invalid JSON`)), r.stderr);
  assert.ok(r.errLines.some((l) => l.startsWith(`showo: ${prompts}:4: `) && /shape/.test(l)), r.stderr);
  assert.deepEqual(fs.readdirSync(out).sort(), ['a.png', 'c.png']);

  // The same policy for every JSONL reader: mmu questions, eval files, answers files.
  const questions = writeLines(path.join(dir, 'mmu.jsonl'), [
    { id: 'q1', scene: { objects: [{ shape: 'circle', color: 'red', size: 'large', cx: 20, cy: 30 }] }, question: 'what color is the circle?', answer: 'red' },
    'not json',
  ]);
  const answers = path.join(dir, 'answers.jsonl');
  const m = await runCli(['mmu', '--questions', questions, '--out', answers, '--model', model, '--max-tokens', '3']);
  assert.equal(m.code, 1, m.stderr);
  assert.ok(m.errLines.some((l) => l.startsWith(`showo: ${questions}:2: invalid JSON`)));
  assert.equal(fs.readFileSync(answers, 'utf8').trim().split('\n').length, 1);
  const badAnswers = writeLines(path.join(dir, 'bad-answers.jsonl'), [{ id: 'q1', answer: 'red' }, { id: 'q2' }]);
  const e = await runCli(['eval', '--mmu', questions, '--answers', badAnswers, '--json']);
  assert.equal(e.code, 1);
  assert.ok(e.errLines.some((l) => l.startsWith(`showo: ${questions}:2:`)));
  assert.ok(e.errLines.some((l) => l.startsWith(`showo: ${badAnswers}:2: answer: expected a string`)));
  assert.equal(JSON.parse(e.stdout).mmu.overall.accuracy, 1, 'the good lines are still scored');
});

/** Runs the real `showo` bin in a child process. */
function bin(args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8' }, (error, _stdout, stderr) => {
      resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

test('the bin script maps errors to exit codes in a real process (no stack traces)', async () => {
  // Both at once: each process spends its time starting up.
  const [usage, missing] = await Promise.all([bin(['frobnicate']), bin(['eval', '--t2i', '/no/such/file.jsonl', '--images', '/tmp'])]);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /unknown command 'frobnicate'/);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr.trim(), 'showo: cannot read t2i file /no/such/file.jsonl: no such file');
});

test('--backend webgpu draws where a WebGPU adapter exists, else says in one line what is missing', async () => {
  const out = path.join(tempDir(), 'a.png');
  const r = await bin(['t2i', 'a red circle', '--backend', 'webgpu', '--model', await tinyBundle(), '--steps', '2', '--out', out]);
  if (r.status === 0) {
    assert.ok(fs.existsSync(out), 'a machine with a WebGPU adapter draws the image');
    return;
  }
  assert.equal(r.status, 1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('showo:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^showo: backend "webgpu" is not available: .*(webgpu|adapter)/);
  // (Dawn, a native library, may print its own adapter warnings; no JavaScript stack trace may follow.)
  assert.doesNotMatch(r.stderr, /^\s+at .*\.[cm]?[jt]s:\d+/m, 'no stack trace');
});
