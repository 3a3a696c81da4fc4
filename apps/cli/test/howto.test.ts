import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@showo/runtime';
import { writeRandomModelBundle } from '@showo/showo';
import { main } from '../src/main.js';
import { howtoHtml, storyboard } from '../src/commands/howto.js';

function sink() {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

test('showo howto: free mode writes keyframes, a storyboard and a page; --guided FILE writes <id>/step-<n>.png', async () => {
  await initBackend('wasm');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-howto-cli-'));
  try {
    const model = await writeRandomModelBundle(path.join(tmp, 'model'), { seed: 3, maxSeqLength: 32 });
    const out = path.join(tmp, 'free');
    const stdout = sink();
    const stderr = sink();
    const code = await main(['howto', 'how do i build a red circle?', '--model', model, '--backend', 'wasm', '--out', out, '--max-steps', '2', '--max-step-tokens', '4', '--steps', '2'], { stdout, stderr });
    assert.equal(code, 0, stderr.text());
    for (const f of ['step-1.png', 'step-2.png', 'storyboard.png', 'index.html']) assert.ok(fs.existsSync(path.join(out, f)), f);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.match(html, /<h1>how do i build a red circle\?<\/h1>/);
    assert.match(stdout.text(), /ended: max-steps/);

    const file = path.join(tmp, 'howto.jsonl');
    const items = [
      { id: 'a/1', question: 'how do i build a red circle?', steps: [{ text: 'step 1: place a red circle on the left.', scene: { objects: [{ shape: 'circle', color: 'red', size: 'large', cx: 12, cy: 30, where: 'left' }] } }] },
      {
        id: 'b',
        question: 'how do i build a red circle and a blue square?',
        steps: [
          { text: 'step 1: place a red circle on the left.', scene: { objects: [{ shape: 'circle', color: 'red', size: 'large', cx: 12, cy: 30, where: 'left' }] } },
          {
            text: 'step 2: add a blue square on the right.',
            scene: {
              objects: [
                { shape: 'circle', color: 'red', size: 'large', cx: 12, cy: 30, where: 'left' },
                { shape: 'square', color: 'blue', size: 'large', cx: 50, cy: 30, where: 'right' },
              ],
            },
          },
        ],
      },
    ];
    fs.writeFileSync(file, items.map((i) => JSON.stringify(i)).join('\n') + '\n');
    const guided = path.join(tmp, 'guided');
    const g = sink();
    const code2 = await main(['howto', '--guided', file, '--out', guided, '--model', model, '--backend', 'wasm', '--steps', '2'], { stdout: g, stderr: sink() });
    assert.equal(code2, 0);
    for (const f of ['a_1/step-1.png', 'b/step-1.png', 'b/step-2.png']) assert.ok(fs.existsSync(path.join(guided, f)), f);
    assert.match(g.text(), /detector: steps \d+\/3/);

    // Usage: neither a question nor a file.
    assert.equal(await main(['howto', '--model', model], { stdout: sink(), stderr: sink() }), 2);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('storyboard and page helpers', () => {
  const red = { width: 2, height: 2, data: new Uint8Array(12).fill(200) };
  const board = storyboard([red, red], 3, 1);
  assert.deepEqual([board.width, board.height], [1 + 2 * (6 + 1), 6 + 2]);
  assert.equal(board.data[(1 * board.width + 1) * 3], 200);
  assert.equal(board.data[0], 224);
  const html = howtoHtml('how do i build <b>?', [{ text: 'step 1: a & b', image: 'step-1.png' }]);
  assert.match(html, /how do i build &lt;b&gt;\?/);
  assert.match(html, /step 1: a &amp; b/);
});
