import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { checkForward } from '../packages/conformance/src/checks/core.js';
await initBackend(process.argv[2] ?? 'cpu');
const before = tf.memory().numTensors;
const t0 = Date.now();
const res = await checkForward('/work/shared/reference');
for (const r of res) console.log(r.ok ? 'ok  ' : 'FAIL', r.name, r.detail);
console.log('tensors', before, tf.memory().numTensors, 'ms', Date.now() - t0);
