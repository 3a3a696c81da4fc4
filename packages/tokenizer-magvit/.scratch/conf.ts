import { initBackend } from '@showo/runtime';
import { checkMagvit } from '../../conformance/src/checks/magvit.js';
const b = process.argv[2] ?? 'wasm';
await initBackend(b);
const t0 = Date.now();
const r = await checkMagvit('/work/shared/reference');
for (const c of r) console.log(c.ok ? 'ok  ' : 'FAIL', c.name, c.detail ?? '');
console.log(b, Date.now() - t0, 'ms');
