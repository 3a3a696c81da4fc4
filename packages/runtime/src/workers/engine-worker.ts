/**
 * Entry of a DualEngine worker thread: a second, independent tfjs instance (its own wasm module, so its own core)
 * that imports the same engine module as the main thread, keeps mirrored weights and answers calls.
 * Started by `DualEngine.create`; in development with `--import tsx` so that TypeScript sources load.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.js';
import '../ops/kernels.js';
import { PairExchange } from './exchange.js';
import { LocalEngine, SINGLE_OUTPUT } from './local-engine.js';
import { fromWireAll, toWireAll, type FromWorker, type NamedTensors, type ToWorker } from './protocol.js';

if (!parentPort) throw new Error('engine-worker must run in a worker thread');
const port = parentPort;
let engine: LocalEngine | undefined;
let exchange: PairExchange | undefined;

function reply(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === 'init') {
    const choice = await initBackend(msg.backend);
    const mod = (await import(msg.moduleUrl)) as Record<string, unknown>;
    engine = new LocalEngine(mod, 1);
    reply({ type: 'ready', backend: choice.name });
    return;
  }
  const id = msg.id;
  try {
    if (!engine) throw new Error('worker not initialised');
    if (msg.type === 'setWeights') {
      engine.setWeights(fromWireAll(msg.weights), true, msg.replace);
      reply({ type: 'done', id });
    } else if (msg.type === 'exchange') {
      exchange = PairExchange.attach(msg.buffer);
      reply({ type: 'done', id });
    } else if (msg.type === 'call') {
      const inputs = fromWireAll(msg.inputs);
      try {
        if (msg.parallel) {
          if (!exchange) throw new Error('tensor-parallel call before the exchange was set up');
          let out: tf.Tensor | NamedTensors;
          try {
            out = engine.call(msg.fn, inputs, msg.options, exchange.context(1));
          } catch (e) {
            exchange.abort(); // the main thread may be waiting for this engine's share
            throw e;
          }
          // The main thread's share carries the result; this one's outputs are not sent back.
          tf.dispose(out instanceof tf.Tensor ? out : Object.values(out));
          reply({ type: 'done', id });
        } else if (msg.grads) {
          const { value, grads, aux } = engine.valueAndGrads(msg.fn, inputs, msg.options, msg.grads.length ? msg.grads : undefined);
          const v = value.dataSync()[0];
          const auxValues: Record<string, number> = {};
          for (const [k, t] of Object.entries(aux)) auxValues[k] = t.dataSync()[0];
          const { wire, transfer } = toWireAll(grads);
          tf.dispose([value, ...Object.values(grads), ...Object.values(aux)]);
          reply({ type: 'done', id, outputs: wire, value: v, aux: auxValues }, transfer);
        } else {
          const out = engine.call(msg.fn, inputs, msg.options);
          const named: NamedTensors = out instanceof tf.Tensor ? { [SINGLE_OUTPUT]: out } : out;
          const { wire, transfer } = toWireAll(named);
          tf.dispose(Object.values(named));
          reply({ type: 'done', id, outputs: wire }, transfer);
        }
      } finally {
        tf.dispose(Object.values(inputs));
      }
    } else if (msg.type === 'resetState') {
      engine.resetState();
      reply({ type: 'done', id });
    } else if (msg.type === 'memory') {
      reply({ type: 'done', id, extra: tf.memory() });
    } else if (msg.type === 'dispose') {
      engine.dispose();
      engine = undefined;
      reply({ type: 'done', id });
      port.close();
    }
  } catch (e) {
    const err = e as Error;
    reply({ type: 'error', id, message: err?.message ?? String(e), stack: err?.stack });
  }
}

// Messages are handled strictly in order (a call must see the weights sent before it).
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: ToWorker) => {
  queue = queue.then(() => handle(msg)).catch((e) => {
    reply({ type: 'error', id: -1, message: (e as Error)?.message ?? String(e) });
  });
});
