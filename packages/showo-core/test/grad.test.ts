// Training calls forward inside tf.variableGrads: every parameter must get a finite gradient, the analytic
// gradient must agree with finite differences, and nothing may leak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { TINY, maskFrom, randomIds } from './helpers.js';

for (const backend of ['cpu', 'wasm'] as const) {
  test(`[${backend}] forward is differentiable w.r.t. every trainable variable and leaks nothing`, async (t) => {
    await initBackend(backend);
    const model = ShowoModel.random(TINY, 12);
    const ids = randomIds(2, 7, TINY.vocab_size, 3);
    const labels = randomIds(2, 7, TINY.vocab_size, 4);
    const mask = maskFrom(2, 7, (q, k) => k <= q || q >= 4); // causal text, bidirectional tail
    const loss = () => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels.flatten(), TINY.vocab_size), model.forward(ids, mask).reshape([14, TINY.vocab_size])) as tf.Scalar);
    const start = tf.memory().numTensors;
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      result = tf.variableGrads(loss, model.trainableVariables());
    } catch (e) {
      if (backend === 'wasm' && /UnsortedSegmentSum|not registered|kernel/i.test(String(e))) {
        t.skip(`wasm lacks a gradient kernel (runtime primitive pending): ${(e as Error).message.split('\n')[0]}`);
        model.dispose();
        return;
      }
      throw e;
    }
    const vars = model.trainableVariables();
    assert.equal(Object.keys(result.grads).length, vars.length);
    for (const v of vars) {
      const g = result.grads[v.name];
      assert.ok(g, `no gradient for ${v.name}`);
      assert.deepEqual(g.shape, v.shape);
      assert.ok(g.dataSync().every(Number.isFinite), `non-finite gradient for ${v.name}`);
    }
    // Finite differences (float32: central difference with a coarse step) on a few scalar parameters.
    const named = model.namedVariables();
    const probes: Array<[string, number]> = [
      ['showo.model.layers.0.self_attn.q_layernorm.weight', 1], // QK-norm + RoPE path
      ['showo.model.layers.1.self_attn.k_proj.weight', 37],
      ['showo.model.layers.0.mlp.fc1.bias', 5],
      ['showo.model.embed_tokens.weight', ids.dataSync()[0] * TINY.hidden_size + 3],
    ];
    for (const [name, index] of probes) {
      const v = named.get(name)!;
      const analytic = result.grads[v.name].dataSync()[index];
      const base = v.dataSync().slice();
      const at = (delta: number) => {
        const x = base.slice();
        x[index] += delta;
        tf.tidy(() => v.assign(tf.tensor(x, v.shape)));
        const l = loss();
        const value = l.dataSync()[0];
        l.dispose();
        return value;
      };
      const h = 1e-2;
      const numeric = (at(h) - at(-h)) / (2 * h);
      tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
      assert.ok(Math.abs(numeric - analytic) < 2e-3 + 0.05 * Math.abs(analytic), `${name}[${index}]: analytic ${analytic}, numeric ${numeric}`);
    }
    tf.dispose([result.value, ...Object.values(result.grads)]);
    assert.equal(tf.memory().numTensors, start, 'gradient computation leaked tensors');
    tf.dispose([ids, labels]);
    model.dispose();
  });
}
