/**
 * Builds the web demo into a static folder: the page, one bundled script (every package from source, with the
 * Node built-ins replaced by the shims in `src/shims/`), tfjs-wasm's binaries and a model folder with its
 * `manifest.json`. Runs in Node.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { resolveModelBundle } from '@showo/showo';
import type { ModelManifest } from './model-files.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** apps/web */
export const WEB_APP_DIR = path.resolve(here, '..');
const REPO_ROOT = path.resolve(WEB_APP_DIR, '..', '..');
const SHIMS = path.join(WEB_APP_DIR, 'src', 'shims');

/** The Node built-ins the packages import, each replaced by a shim of the same name in the browser bundle. */
export const SHIMMED_BUILTINS = ['fs', 'path', 'url', 'module', 'os', 'worker_threads', 'crypto'] as const;

export interface BuildOptions {
  /** Output folder (default `apps/web/dist`); emptied first. */
  outDir?: string;
  /** Model folder to serve (default: the embedded model, `models/shapes-world`). */
  model?: string;
  /** Minify the script (default true). */
  minify?: boolean;
  /** Entry module (default `src/main.ts`: the page). Tests bundle other entries with the same shims. */
  entry?: string;
  /** Platform of the bundle (default `browser`). */
  platform?: 'browser' | 'node';
  /** Leave out the page, the wasm binaries and the model (a bundle alone). */
  scriptOnly?: boolean;
}

export interface BuildResult {
  outDir: string;
  /** Bytes of the bundled script. */
  scriptBytes: number;
  /** Modules the script still imports at run time (external to the bundle), e.g. `fs` behind emscripten's Node check. */
  externalImports: string[];
  /** The model folder's manifest (absent with `scriptOnly`). */
  manifest?: ModelManifest;
}

/**
 * Resolves the packages to their TypeScript sources (no `npm run build` needed) and the `node:` built-ins to the
 * shims; a `node:` module without a shim fails the build, naming the importer.
 */
function browserResolution(): Plugin {
  return {
    name: 'showo-browser',
    setup(b) {
      b.onResolve({ filter: /^@showo\/[a-z-]+$/ }, (args) => {
        const name = args.path.slice('@showo/'.length);
        const src = path.join(REPO_ROOT, 'packages', name, 'src', 'index.ts');
        return fs.existsSync(src) ? { path: src } : undefined;
      });
      b.onResolve({ filter: /^node:/ }, (args) => {
        const name = args.path.slice('node:'.length);
        if ((SHIMMED_BUILTINS as readonly string[]).includes(name)) return { path: path.join(SHIMS, `${name}.ts`) };
        return { errors: [{ text: `node:${name} has no browser shim (imported by ${path.relative(REPO_ROOT, args.importer)})` }] };
      });
      // pngjs's main module needs Node's zlib and streams; its package ships a browser build.
      b.onResolve({ filter: /^pngjs$/ }, () => ({ path: createRequire(import.meta.url).resolve('pngjs/browser.js') }));
    },
  };
}

/** Copies the files a model folder needs (as {@link resolveModelBundle} finds them) and lists them in a manifest. */
function copyModel(modelDir: string, outDir: string): ModelManifest {
  const bundle = resolveModelBundle(modelDir);
  const files = [bundle.showo.configFile, bundle.showo.weightsFile, bundle.magvit.configFile, bundle.magvit.weightsFile];
  if (bundle.text.kind === 'word') files.push(bundle.text.path);
  else for (const f of fs.readdirSync(bundle.text.path)) files.push(path.join(bundle.text.path, f));
  const manifest: ModelManifest = { name: `${path.basename(bundle.dir)} (${bundle.layout} layout)`, files: [] };
  for (const file of files) {
    const rel = path.relative(bundle.dir, file).split(path.sep).join('/');
    const to = path.join(outDir, 'model', rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(file, to);
    manifest.files.push({ path: rel, size: fs.statSync(file).size });
  }
  fs.writeFileSync(path.join(outDir, 'model', 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

/** Builds the demo; returns where and how big. */
export async function buildWebApp(options: BuildOptions = {}): Promise<BuildResult> {
  const outDir = path.resolve(options.outDir ?? path.join(WEB_APP_DIR, 'dist'));
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const script = path.join(outDir, 'app.js');
  const { metafile } = await build({
    metafile: true,
    entryPoints: [options.entry ?? path.join(WEB_APP_DIR, 'src', 'main.ts')],
    outfile: script,
    bundle: true,
    format: 'esm',
    platform: options.platform ?? 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: true,
    logLevel: 'silent',
    // An ESM bundle run by Node has no `require` for the CommonJS parts' built-ins (tfjs's Node platform).
    ...(options.platform === 'node' ? { banner: { js: "import { createRequire as __showoCreateRequire } from 'module'; const require = __showoCreateRequire(import.meta.url);" } } : {}),
    plugins: [browserResolution()],
    // In Node (tests) tfjs must still see the real `process` to pick its platform; Buffer is the package either way.
    inject: [path.join(SHIMS, options.platform === 'node' ? 'buffer.ts' : 'globals.ts')],
    // tfjs-backend-wasm's emscripten glue names Node modules behind runtime checks that are false in a browser.
    external: options.platform === 'node' ? [] : ['fs', 'path', 'worker_threads', 'perf_hooks', 'os', 'crypto'],
  });
  const output = Object.entries(metafile.outputs).find(([file]) => file.endsWith('app.js'))![1];
  const externalImports = [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].sort();
  const result: BuildResult = { outDir, scriptBytes: fs.statSync(script).size, externalImports };
  if (options.scriptOnly) return result;
  for (const f of ['index.html', 'style.css']) fs.copyFileSync(path.join(WEB_APP_DIR, f), path.join(outDir, f));
  const wasmDist = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
  fs.mkdirSync(path.join(outDir, 'wasm'));
  for (const f of fs.readdirSync(wasmDist).filter((n) => n.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDist, f), path.join(outDir, 'wasm', f));
  result.manifest = copyModel(options.model ?? path.join(REPO_ROOT, 'models', 'shapes-world'), outDir);
  return result;
}
