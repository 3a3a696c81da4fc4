// Builds the web demo and serves it on localhost.
// Usage: npm run web [-- --port 8080] [--model DIR] [--out DIR] [--no-minify] [--build-only]
import { parseArgs } from 'node:util';
import { buildWebApp } from '../src/build.js';
import { serveStatic } from '../src/serve.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    model: { type: 'string' },
    out: { type: 'string' },
    'no-minify': { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
  },
});

const started = Date.now();
const built = await buildWebApp({
  ...(values.model ? { model: values.model } : {}),
  ...(values.out ? { outDir: values.out } : {}),
  minify: !values['no-minify'],
});
const modelBytes = built.manifest!.files.reduce((s, f) => s + f.size, 0);
console.log(
  `built ${built.outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s: app.js ${(built.scriptBytes / 2 ** 20).toFixed(2)} MB, ` +
    `model ${built.manifest!.name} ${(modelBytes / 2 ** 20).toFixed(1)} MB in ${built.manifest!.files.length} files`,
);
if (!values['build-only']) {
  const { url } = await serveStatic(built.outDir, Number(values.port));
  console.log(`serving the demo at ${url}  (add ?backend=webgpu for the GPU where the browser has WebGPU; Ctrl-C stops)`);
}
