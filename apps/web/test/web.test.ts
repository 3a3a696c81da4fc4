import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRandomModelBundle } from '@showo/showo';
import { buildWebApp } from '../src/build.js';
import { serveStatic } from '../src/serve.js';

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `showo-web-${name}-`));

test('the demo builds for the browser: one script, the page, the wasm binaries and the model with its manifest', async () => {
  const model = await writeRandomModelBundle(tmp('model'), { seed: 3 });
  const out = tmp('dist');
  const built = await buildWebApp({ outDir: out, model });
  for (const f of ['index.html', 'style.css', 'app.js', 'model/manifest.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  assert.ok(fs.readdirSync(path.join(out, 'wasm')).some((f) => f.endsWith('.wasm')));
  assert.ok(!built.externalImports.some((i) => i.startsWith('node:')), `every node: import is replaced by a shim: ${built.externalImports}`);
  assert.ok(built.scriptBytes > 100_000);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'model', 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest, built.manifest);
  assert.ok(manifest);
  assert.deepEqual(
    manifest.files.map((f: { path: string }) => f.path).sort(),
    ['magvit/config.json', 'magvit/model.safetensors', 'showo/config.json', 'showo/model.safetensors', 'showo/vocab.json'],
  );
  for (const f of manifest.files) assert.equal(fs.statSync(path.join(model, f.path)).size, f.size, f.path);
});

test('a Node built-in without a shim fails the build and names the importer', async () => {
  const dir = tmp('entry');
  const entry = path.join(dir, 'entry.ts');
  fs.writeFileSync(entry, "import zlib from 'node:zlib';\nconsole.log(zlib);\n");
  await assert.rejects(buildWebApp({ outDir: tmp('bad'), entry, scriptOnly: true }), /node:zlib has no browser shim \(imported by .*entry\.ts\)/);
});

test("the browser code path (shims, download into memory, createShowo) draws and answers without leaking tensors", async () => {
  const model = await writeRandomModelBundle(tmp('model'), { seed: 4 });
  const out = tmp('node');
  await buildWebApp({ outDir: out, model, entry: path.join(import.meta.dirname, 'fixtures', 'node-entry.ts'), platform: 'node', minify: false });
  const { server, url } = await serveStatic(out);
  try {
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      // spawnSync would block the server in this process: run it asynchronously.
      import('node:child_process').then(({ spawn }) => {
        const child = spawn(process.execPath, [path.join(out, 'app.js')], { env: { ...process.env, SHOWO_WEB_MODEL_URL: `${url}model/` } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.deepEqual(result.mounted, result.manifest.files.map((f: { path: string }) => `/model/${f.path}`).sort());
    assert.equal(result.backend, 'cpu');
    assert.deepEqual(result.steps, [0, 1, 2]);
    assert.deepEqual([result.width, result.height], [64, 64]);
    assert.equal(typeof result.answer, 'string');
    assert.equal(result.after, result.before, 'the pipelines leave the tensor count where they found it');
  } finally {
    server.close();
  }
});

test('a truncated download is refused with the file and both sizes', async () => {
  const { fetchModelFolder, ModelDownloadError } = await import('../src/model-files.js');
  const files: Record<string, Uint8Array | object> = {
    'manifest.json': { name: 'x', files: [{ path: 'showo/model.safetensors', size: 10 }] },
    'showo/model.safetensors': new Uint8Array(7),
  };
  const fakeFetch = async (url: string) => {
    const body = files[url.replace('http://x/m/', '')];
    if (!body) return new Response('no', { status: 404 });
    return body instanceof Uint8Array ? new Response(new Blob([body as Uint8Array<ArrayBuffer>])) : Response.json(body);
  };
  await assert.rejects(fetchModelFolder('http://x/m', '/t', { fetch: fakeFetch }), (e: unknown) => {
    assert.ok(e instanceof ModelDownloadError);
    assert.match(e.message, /showo\/model\.safetensors: got 7 bytes, the manifest says 10/);
    return true;
  });
  files['showo/model.safetensors'] = new Uint8Array(10);
  delete files['manifest.json'];
  await assert.rejects(fetchModelFolder('http://x/m', '/t', { fetch: fakeFetch }), /manifest\.json: HTTP 404/);
});
