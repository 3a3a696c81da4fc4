import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawUniforms, RecordedUniforms, SeededRandom, UniformsExhaustedError, type UniformSource } from '@showo/runtime';

test('the same seed gives the same sequence; different seeds differ', () => {
  const a = new SeededRandom(42).uniforms(1000);
  const b = new SeededRandom(42).uniforms(1000);
  const c = new SeededRandom(43).uniforms(1000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('uniforms lie in [0, 1), are float32-exact and look uniform', () => {
  const r = new SeededRandom(7);
  const n = 200_000;
  let sum = 0;
  const bins = new Array(10).fill(0);
  for (let i = 0; i < n; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    assert.equal(Math.fround(u), u);
    sum += u;
    bins[Math.floor(u * 10)]++;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005);
  for (const count of bins) assert.ok(Math.abs(count / n - 0.1) < 0.005);
});

test('state save and restore continues the same sequence', () => {
  const r = new SeededRandom(3);
  r.uniforms(17);
  r.normal();
  const state = r.getState();
  const expected = [r.normal(), ...r.uniforms(5)];
  const s = new SeededRandom(999);
  s.setState(JSON.parse(JSON.stringify(state.map((x) => (Number.isNaN(x) ? null : x)))));
  assert.deepEqual([s.normal(), ...s.uniforms(5)], expected);
});

test('normals have mean 0 and variance 1', () => {
  const r = new SeededRandom(11);
  let s = 0;
  let s2 = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.02);
  assert.ok(Math.abs(s2 / n - 1) < 0.02);
});

test('recorded uniforms are replayed in order and exhaustion is an error', () => {
  const src: UniformSource = new RecordedUniforms([0.25, 0.5]);
  assert.deepEqual([...drawUniforms(src, 2)], [0.25, 0.5]);
  assert.throws(() => src.next(), UniformsExhaustedError);
});

test('the runtime container module binds a seeded source that a user can rebind', async () => {
  const { Container } = await import('inversify');
  const { runtimeModule, RUNTIME_TYPES } = await import('@showo/runtime');
  const c = new Container();
  await c.load(runtimeModule({ seed: 5 }));
  const src = c.get<UniformSource>(RUNTIME_TYPES.UniformSource);
  assert.equal(src.next(), new SeededRandom(5).next());
  await c.unbind(RUNTIME_TYPES.UniformSource);
  c.bind<UniformSource>(RUNTIME_TYPES.UniformSource).toConstantValue(new RecordedUniforms([0.125]));
  assert.equal(c.get<UniformSource>(RUNTIME_TYPES.UniformSource).next(), 0.125);
});
