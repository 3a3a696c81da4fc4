/**
 * Fetching a model folder into the in-memory file system, so that `createShowo({ model: '/model' })` reads it
 * with the same code as in Node. The build writes `manifest.json` beside the folder's files.
 */
import { mountFiles } from './shims/fs.js';

/** One file of a model folder, as listed by the build's `manifest.json`. */
export interface ManifestFile {
  /** Path inside the model folder, e.g. `showo/model.safetensors`. */
  path: string;
  /** Size in bytes (the download's progress is measured against the sum). */
  size: number;
}

/** `manifest.json` of a served model folder. */
export interface ModelManifest {
  /** What the folder is (shown to the user). */
  name: string;
  files: ManifestFile[];
}

/** Progress of {@link fetchModelFolder}. */
export interface DownloadProgress {
  loaded: number;
  total: number;
  file: string;
}

/** A failed download names the file and the HTTP status. */
export class ModelDownloadError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`could not download ${url}: ${reason}`);
    this.name = 'ModelDownloadError';
  }
}

export type FetchLike = (url: string) => Promise<Response>;

async function readBody(response: Response, onBytes: (n: number) => void): Promise<Uint8Array> {
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onBytes(bytes.byteLength);
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
    onBytes(value.byteLength);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Downloads the model folder served at `baseUrl` (its `manifest.json` and every file it lists) and mounts it at
 * `mountAt` in the in-memory file system. Sizes are checked against the manifest, so a truncated download is an
 * error here rather than a corrupt-safetensors error later.
 */
export async function fetchModelFolder(
  baseUrl: string,
  mountAt: string,
  options: { fetch?: FetchLike; onProgress?: (p: DownloadProgress) => void } = {},
): Promise<ModelManifest> {
  const get = options.fetch ?? ((url: string) => fetch(url));
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const manifestUrl = `${base}manifest.json`;
  let response: Response;
  try {
    response = await get(manifestUrl);
  } catch (e) {
    throw new ModelDownloadError(manifestUrl, (e as Error).message);
  }
  if (!response.ok) throw new ModelDownloadError(manifestUrl, `HTTP ${response.status}`);
  const manifest = (await response.json()) as ModelManifest;
  if (!Array.isArray(manifest.files)) throw new ModelDownloadError(manifestUrl, 'manifest.json has no "files" list');
  const total = manifest.files.reduce((s, f) => s + f.size, 0);
  let loaded = 0;
  const mounted: [string, Uint8Array][] = [];
  for (const file of manifest.files) {
    const url = `${base}${file.path}`;
    let r: Response;
    try {
      r = await get(url);
    } catch (e) {
      throw new ModelDownloadError(url, (e as Error).message);
    }
    if (!r.ok) throw new ModelDownloadError(url, `HTTP ${r.status}`);
    const bytes = await readBody(r, (n) => {
      loaded += n;
      options.onProgress?.({ loaded, total, file: file.path });
    });
    if (bytes.byteLength !== file.size) throw new ModelDownloadError(url, `got ${bytes.byteLength} bytes, the manifest says ${file.size}`);
    mounted.push([`${mountAt.replace(/\/$/, '')}/${file.path}`, bytes]);
  }
  mountFiles(mounted);
  return manifest;
}
