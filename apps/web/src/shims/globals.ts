/**
 * Globals the packages use that a browser lacks, injected by the build wherever the bundle names them
 * (esbuild `inject`): `Buffer` (the `buffer` package, used for byte views) and a `process` with an empty
 * environment.
 */
export { Buffer } from './buffer.js';
export { process } from './process.js';
