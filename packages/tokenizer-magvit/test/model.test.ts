import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend, readSafetensors, writeSafetensors } from '@showo/runtime';
import {
  CodeRangeError,
  createMagvitConfig,
  ImageShapeError,
  loadMagvit,
  MagvitTokenizer,
  MagvitWeightsError,
  saveMagvit,
  tfConvToTorch,
  torchConvToTf,
} from '@showo/tokenizer-magvit';

const config = createMagvitConfig({ ch: 32, chMult: [1, 2], numResBlocks: 1, resolution: 16, codebookDim: 4 });
let model: MagvitTokenizer;
let tmp: string;

before(async () => {
  await initBackend('wasm');
  model = MagvitTokenizer.create(config, { seed: 7 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'magvit-test-'));
});
after(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const images = (b = 2, size = 16) => tf.randomUniform([b, size, size, 3], -1, 1, 'float32', 11) as tf.Tensor4D;

describe('MagvitTokenizer', () => {
  it('encodes to int32 codes [B, h·w] and decodes to images [B, R, R, 3]', () => {
    const x = images();
    const z = model.encoderOutput(x);
    assert.deepEqual(z.shape, [2, 8, 8, 4]);
    const codes = model.encodeToCodes(x);
    assert.deepEqual(codes.shape, [2, 64]);
    assert.equal(codes.dtype, 'int32');
    const c = codes.dataSync();
    assert.ok(c.every((v) => v >= 0 && v < 16));
    const out = model.decodeCodes(codes);
    assert.deepEqual(out.shape, [2, 16, 16, 3]);
    // Non-square images work with an explicit grid.
    const wide = tf.randomUniform([1, 16, 32, 3], -1, 1) as tf.Tensor4D;
    const wc = model.encodeToCodes(wide);
    assert.deepEqual(model.latentShape(16, 32), [8, 16]);
    const wd = model.decodeCodes(wc, [8, 16]);
    assert.deepEqual(wd.shape, [1, 16, 32, 3]);
    tf.dispose([x, z, codes, out, wide, wc, wd]);
  });

  it('leaks no tensors, on success and on error', () => {
    const x = images();
    const before = tf.memory().numTensors;
    const codes = model.encodeToCodes(x);
    const out = model.decodeCodes(codes);
    tf.dispose([codes, out]);
    tf.dispose(model.encoderOutput(x, { tap: (_, v) => void v.dataSync() }));
    assert.equal(tf.memory().numTensors, before);
    const bad = tf.zeros([1, 16, 16, 4]) as tf.Tensor4D;
    const odd = tf.zeros([1, 15, 16, 3]) as tf.Tensor4D;
    const mid = tf.memory().numTensors;
    assert.throws(() => model.encodeToCodes(bad), ImageShapeError);
    assert.throws(() => model.encodeToCodes(odd), ImageShapeError);
    assert.throws(() => model.decodeCodes([[0, 1, 2, 99]]), CodeRangeError);
    assert.throws(() => model.decodeCodes([[0, 1, 2]]), CodeRangeError); // not a square grid
    assert.throws(() => model.decodeCodes([[0, 1, 2, 3]], [3, 3]), CodeRangeError);
    assert.equal(tf.memory().numTensors, mid);
    tf.dispose([x, bad, odd]);
  });

  it('splits large batches under the wasm memory budget with identical results', () => {
    const x = images(3);
    const codes = model.encodeToCodes(x);
    const out = model.decodeCodes(codes);
    const saved = MagvitTokenizer.wasmBudgetBytes;
    try {
      MagvitTokenizer.wasmBudgetBytes = tf.memory().numBytes + 1; // room for one image per pass
      assert.equal(model.imagesPerPass(16, 16), 1);
      const before = tf.memory().numTensors;
      const codes2 = model.encodeToCodes(x);
      const out2 = model.decodeCodes(codes2);
      assert.deepEqual(codes2.dataSync(), codes.dataSync());
      assert.deepEqual(out2.dataSync(), out.dataSync());
      tf.dispose([codes2, out2]);
      assert.equal(tf.memory().numTensors, before);
    } finally {
      MagvitTokenizer.wasmBudgetBytes = saved;
    }
    tf.dispose([x, codes, out]);
  });

  it('conv layout conversion round-trips', () => {
    const shape = [4, 3, 3, 2];
    const data = Float32Array.from({ length: 72 }, (_, i) => i);
    const t = torchConvToTf(data, shape);
    assert.equal(t[((1 * 2 + 0) * 3 + 2) * 4 + 3], data[((3 * 3 + 2) * 3 + 1) * 2 + 0]); // [kh=1,kw=0,in=2,out=3] = torch[3,2,1,0]
    assert.deepEqual(tfConvToTorch(t, shape), data);
  });

  it('saves official names in PyTorch layout and loads them back exactly (config from metadata)', () => {
    const file = path.join(tmp, 'tok.safetensors');
    saveMagvit(model, file);
    const { tensors } = readSafetensors(file);
    assert.deepEqual(tensors.get('encoder.conv_in.weight')!.shape, [32, 3, 3, 3]);
    assert.deepEqual(Array.from(tensors.get('quantize.power_vals')!.data), [8, 4, 2, 1]);
    const loaded = loadMagvit(file);
    const x = images(1);
    const a = model.decodeCodes(model.encodeToCodes(x));
    const codes2 = loaded.encodeToCodes(x);
    const b = loaded.decodeCodes(codes2);
    assert.deepEqual(a.dataSync(), b.dataSync());
    // Without the stored config, the shapes alone describe the same network.
    const bare = path.join(tmp, 'bare.safetensors');
    writeSafetensors(bare, new Map([...tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data }])));
    const inferred = loadMagvit(bare, { resolution: 16 });
    assert.equal(inferred.parameterCount(), model.parameterCount());
    tf.dispose([x, a, b, codes2]);
    loaded.dispose();
    inferred.dispose();
  });

  it('refuses weights that do not fit the config, naming the tensor', () => {
    const file = path.join(tmp, 'tok2.safetensors');
    saveMagvit(model, file);
    const other = createMagvitConfig({ ch: 64, chMult: [1, 2], numResBlocks: 1, resolution: 16, codebookDim: 4 });
    const before = tf.memory().numTensors;
    assert.throws(() => loadMagvit(file, { config: other }), (e: unknown) => e instanceof MagvitWeightsError && /encoder\.conv_in\.weight has shape/.test(e.message));
    const { tensors } = readSafetensors(file);
    tensors.delete('decoder.conv_out.bias');
    const missing = path.join(tmp, 'missing.safetensors');
    writeSafetensors(missing, new Map([...tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data }])), { showo_magvit_config: readSafetensors(file).metadata.showo_magvit_config });
    assert.throws(() => loadMagvit(missing), /missing decoder\.conv_out\.bias/);
    assert.equal(tf.memory().numTensors, before);
  });

  it('palette head decodes to the argmax palette colour', () => {
    const palette: [number, number, number][] = [
      [0, 0, 0],
      [255, 0, 0],
      [0, 255, 255],
    ];
    const pc = createMagvitConfig({ ch: 32, chMult: [1, 2], resolution: 16, codebookDim: 4, palette });
    const m = MagvitTokenizer.create(pc, { seed: 3 });
    const codes = [Array.from({ length: 64 }, (_, i) => i % 16)];
    const logits = tf.tidy(() => m.decodeLatent(m.codesToLatent(codes)));
    assert.equal(logits.shape[3], 3);
    const img = m.decodeCodes(codes);
    const cls = tf.argMax(logits, -1).dataSync();
    const px = img.dataSync();
    for (let i = 0; i < cls.length; i++) for (let c = 0; c < 3; c++) assert.equal(px[3 * i + c], palette[cls[i]][c] / 127.5 - 1);
    tf.dispose([logits, img]);
    m.dispose();
  });

  it("borrow({ part: 'decoder' }) decodes from the decoder's weights alone and refuses encoder work", () => {
    const decoderOnly = new Map([...model.namedVariables()].filter(([n]) => n.startsWith('decoder.')));
    const view = MagvitTokenizer.borrow(config, decoderOnly, { part: 'decoder' });
    const codes = [[0, 3, 5, 15, 1, 2, 8, 9, 4, 7, 6, 11, 10, 12, 13, 14]];
    const [a, b] = tf.tidy(() => [model.decodeCodes(codes).dataSync(), view.decodeCodes(codes).dataSync()]);
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.equal(view.trainableVariables().length, decoderOnly.size);
    const img = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    assert.throws(() => view.encodeToCodes(img), (e: unknown) => e instanceof MagvitWeightsError && /encoder\./.test(e.message));
    img.dispose();
    view.dispose();
    assert.ok(model.namedVariables().get('decoder.conv_in.weight')!.size > 0, 'the owner keeps its tensors');
    assert.throws(() => MagvitTokenizer.borrow(config, decoderOnly), (e: unknown) => e instanceof MagvitWeightsError && /encoder/.test(e.message));
  });
});
