import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '@showo/runtime';

/** `showo demo`: the first-run demo (what `npm start` runs). */
export function demoCommand(program: Command, common: (c: Command) => Command): void {
  common(program.command('demo').description('short demo on the embedded model (writes under ./out)')).action(async (opts: { backend: BackendName }) => {
    const choice = await initBackend(opts.backend, { log: (l) => console.log(l) });
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])));
    const values = [...(await y.data())];
    y.dispose();
    const ok = values[0] === 17 && values[1] === 39 && tf.memory().numTensors === before;
    console.log(`tensor check on ${choice.name}: [[1,2],[3,4]]·[5,6]ᵀ = [${values.join(', ')}] ${ok ? 'ok' : 'WRONG'}`);
    if (!ok) process.exitCode = 1;
  });
}
