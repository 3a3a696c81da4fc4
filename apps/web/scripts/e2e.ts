// End-to-end check of the web demo in headless Chromium (Debian's: apt-get install chromium): builds the demo,
// serves it, draws a picture, asks about it and about an uploaded one, writes a how-to, stops a drawing midway,
// checks that the page holds no more tensors than before, and saves screenshots. Not part of `npm test` (a fresh
// machine may have no browser); .ci/run runs it after the tests.
// Usage: node --import tsx apps/web/scripts/e2e.ts [--chromium /usr/bin/chromium] [--screenshot FILE]
//        [--backend wasm|webgpu] [--steps N]   (webgpu uses Chromium's SwiftShader adapter: slow, but it computes)
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { renderScene } from '@showo/shapes-world';
import { writePngFile } from '@showo/showo';
import { buildWebApp } from '../src/build.js';
import { serveStatic } from '../src/serve.js';

const { values } = parseArgs({
  options: {
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    screenshot: { type: 'string', default: 'apps/web/dist/e2e.png' },
    backend: { type: 'string', default: 'wasm' },
    prompt: { type: 'string', default: 'a large red circle' },
    question: { type: 'string', default: 'what color is the circle?' },
    steps: { type: 'string', default: '' },
  },
});
if (!fs.existsSync(values.chromium)) {
  console.error(`no Chromium at ${values.chromium} (apt-get install chromium, or pass --chromium PATH)`);
  process.exit(2);
}

const outDir = path.resolve('apps/web/dist-e2e');
await buildWebApp({ outDir });
const { server, url } = await serveStatic(outDir);
const browser = await chromium.launch({
  executablePath: values.chromium,
  args: [
    '--no-sandbox',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // WebGPU without a GPU: Chromium's SwiftShader adapter (a CPU Vulkan), enough to check the webgpu path.
    ...(values.backend === 'webgpu' ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface', '--enable-unsafe-swiftshader'] : ['--disable-gpu']),
  ],
});
const failures: string[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  let t = Date.now();
  await page.goto(`${url}?backend=${values.backend}`);
  await page.waitForSelector('body[data-state=ready], body[data-state=failed]', { timeout: 180_000 });
  if ((await page.getAttribute('body', 'data-state')) === 'failed') throw new Error(`the page failed to start: ${await page.textContent('#status')}`);
  console.log(`loaded in ${((Date.now() - t) / 1000).toFixed(1)} s: ${await page.textContent('#model')}`);
  const tensors = () => page.evaluate(() => (window as unknown as { showoDemo: { tf: { memory(): { numTensors: number } } } }).showoDemo.tf.memory().numTensors);
  const before = await tensors();
  // Waits until the page is idle again with a status line that says how the action ended.
  const finished = (status: RegExp, timeout: number) =>
    page.waitForFunction(
      (source) => document.body.dataset.state === 'ready' && new RegExp(source).test(document.getElementById('status')!.textContent ?? ''),
      status.source,
      { timeout },
    );

  await page.fill('#prompt', values.prompt);
  await page.fill('#steps', values.steps);
  t = Date.now();
  await page.click('#draw');
  await finished(/^(drew|drawing failed)/, 300_000);
  const drew = (await page.textContent('#status')) ?? '';
  console.log(`t2i: ${drew} (${((Date.now() - t) / 1000).toFixed(1)} s with the page's overhead)`);
  if (!drew.startsWith('drew')) failures.push(`drawing did not finish: ${drew}`);
  const inked = await page.evaluate(() => {
    const c = document.getElementById('canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! < 230 || d[i + 1]! < 230 || d[i + 2]! < 230) n++;
    return n / (d.length / 4);
  });
  console.log(`non-white share of the canvas: ${inked.toFixed(3)}; tensors ${await tensors()}`);
  if (!(inked > 0.005)) failures.push('the canvas stayed blank');

  await page.fill('#question', values.question);
  t = Date.now();
  await page.click('#ask');
  await finished(/^(answered|answering failed|no picture)/, 120_000);
  const answer = ((await page.textContent('#answer')) ?? '').trim();
  console.log(`mmu: "${values.question}" → "${answer}" (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  if (!answer) failures.push('no answer');
  console.log(`tensors after the answer: ${await tensors()}`);

  await page.screenshot({ path: values.screenshot });
  console.log(`screenshot: ${values.screenshot}`);

  // An uploaded picture: a blue square on the left, rendered by the Shapes World renderer (upscaled by the page).
  const upload = path.join(outDir, 'upload.png');
  writePngFile(upload, { width: 64, height: 64, data: renderScene({ objects: [{ shape: 'square', color: 'blue', size: 'large', cx: 16, cy: 32 }] }) });
  await page.setInputFiles('#upload', upload);
  await finished(/^loaded upload\.png/, 30_000);
  await page.fill('#question', 'what color is the square?');
  await page.click('#ask');
  await finished(/^(answered|answering failed)/, 120_000);
  const uploadedAnswer = ((await page.textContent('#answer')) ?? '').trim();
  console.log(`mmu on an upload: "what color is the square?" → "${uploadedAnswer}"`);
  if (!uploadedAnswer) failures.push('no answer about the upload');

  // How-to, free mode: the model writes the steps and draws a keyframe after each.
  t = Date.now();
  await page.click('#howto');
  await finished(/^(wrote and drew|how-to failed)/, 600_000);
  const howto = await page.$$eval('#howto-out li p', (ps) => ps.map((p) => p.textContent ?? ''));
  console.log(`how-to: ${await page.textContent('#status')} (${((Date.now() - t) / 1000).toFixed(1)} s): ${howto.map((h) => `"${h}"`).join(', ')}`);
  if (!howto.length || howto.some((h) => !h.startsWith('step'))) failures.push(`how-to steps: ${JSON.stringify(howto)}`);
  await page.screenshot({ path: values.screenshot.replace(/\.png$/, '-howto.png'), fullPage: true });

  // Stop mid-generation: the page must come back to ready without leaking tensors.
  await page.fill('#steps', values.steps || '48');
  await page.click('#draw');
  await page.waitForFunction(() => /step [2-9]/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 120_000 });
  await page.click('#stop');
  await finished(/^stopped/, 60_000);
  console.log(`after Stop: ${await page.textContent('#status')}`);

  // A step in flight when Stop is pressed (a device read pending) finishes before its tensors are freed.
  let after = await tensors();
  for (let waited = 0; after !== before && waited < 60_000; waited += 500) {
    await page.waitForTimeout(500);
    after = await tensors();
  }
  console.log(`tensors: ${before} before, ${after} after`);
  if (after !== before) failures.push(`tensors leaked: ${before} → ${after}`);
} catch (e) {
  failures.push((e as Error).message);
} finally {
  await browser.close();
  server.close();
}
if (failures.length) {
  console.error(`FAILED:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('web demo: ok');
