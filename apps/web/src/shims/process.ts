/** The `process` global for the browser bundle: an empty environment (no SHOWO_* overrides) and a root cwd. */
export const process = {
  env: {} as Record<string, string | undefined>,
  pid: 0,
  platform: 'browser',
  versions: {} as Record<string, string>,
  cwd: () => '/',
  nextTick: (f: (...args: unknown[]) => void, ...args: unknown[]) => queueMicrotask(() => f(...args)),
};
