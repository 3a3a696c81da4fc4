/** `node:os` for the browser bundle: the core count comes from the browser. */

function cores(): number {
  return typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 1;
}

export function availableParallelism(): number {
  return cores();
}

export function cpus(): { model: string }[] {
  return Array.from({ length: cores() }, () => ({ model: 'browser' }));
}

export default { availableParallelism, cpus };
