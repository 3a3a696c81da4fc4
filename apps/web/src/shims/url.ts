/** `node:url` for the browser bundle: file URLs map to paths of the in-memory file system. */

export function fileURLToPath(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  // In a bundle, import.meta.url is the page's http(s) URL; its path stands in for the module's file path.
  return decodeURIComponent(u.pathname);
}

export function pathToFileURL(p: string): URL {
  return new URL(`file://${encodeURI(p)}`);
}

export default { fileURLToPath, pathToFileURL };
