import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createMagvitConfig,
  FULL_SIZE_MAGVIT_CONFIG,
  inferMagvitConfig,
  MagvitConfigError,
  magvitConfigToJson,
  parameterCount,
  parameterSpecs,
  parseMagvitConfig,
} from '@showo/tokenizer-magvit';

/** Shapes a checkpoint of `config` would have (PyTorch layout), as a loader sees them in the header. */
function shapesOf(config: ReturnType<typeof createMagvitConfig>): Map<string, number[]> {
  return new Map(parameterSpecs(config).map((s) => [s.name, s.torchShape]));
}

describe('tokenizer config', () => {
  it('an empty config (the released checkpoint takes no arguments) gives the full-size defaults', () => {
    const c = parseMagvitConfig({ _class_name: 'MAGVITv2' });
    assert.deepEqual(c.encoder.chMult, [1, 2, 2, 4, 4]);
    assert.deepEqual(c.decoder.chMult, [1, 1, 2, 2, 4]);
    assert.deepEqual(c.decoder.numResBlocks, [4, 4, 3, 4, 3]);
    assert.equal(c.codebookDim, 13);
    // The released MAGVIT-v2 has ~95 M parameters (382 MB of float32 with its buffers).
    const n = parameterCount(c);
    assert.ok(n > 90e6 && n < 96e6, `${n}`);
  });

  it('reads official_constructor_args and round-trips through its own JSON', () => {
    const json = {
      official_constructor_args: {
        encoder: { class: 'VQGANEncoder', ch: 32, ch_mult: [1, 1, 2], num_res_blocks: [1, 2, 1], attn_resolutions: [5], in_ch: 3, out_ch: 3, resolution: 32, z_channels: 6, double_z: false },
        decoder: { class: 'VQGANDecoder', ch: 32, ch_mult: [1, 2, 2], num_res_blocks: [2, 1, 1], attn_resolutions: [5], in_ch: 3, out_ch: 3, resolution: 32, z_channels: 6, double_z: false },
        quantize: { class: 'LFQuantizer', codebook_dim: 6 },
      },
    };
    const c = parseMagvitConfig(json);
    assert.equal(c.codebookDim, 6);
    assert.deepEqual(c.decoder.numResBlocks, [2, 1, 1]);
    assert.deepEqual(parseMagvitConfig(JSON.parse(JSON.stringify(magvitConfigToJson(c)))), c);
  });

  it('infers the same network from tensor shapes, full size included', () => {
    for (const config of [
      { ...FULL_SIZE_MAGVIT_CONFIG },
      createMagvitConfig({ ch: 32, chMult: [1, 2, 2], decoderChMult: [1, 1, 2], numResBlocks: [1, 2, 1], resolution: 64, codebookDim: 8, attnResolutions: [16] }),
    ]) {
      const inferred = inferMagvitConfig(shapesOf(config), { resolution: config.encoder.resolution });
      assert.deepEqual(parameterSpecs(inferred), parameterSpecs(config));
    }
  });

  it('places attention blocks at the listed resolutions, as upstream', () => {
    const c = createMagvitConfig({ ch: 32, chMult: [1, 2, 2], numResBlocks: 2, resolution: 64, codebookDim: 4, attnResolutions: [16] });
    const names = parameterSpecs(c).map((s) => s.name);
    assert.ok(names.includes('encoder.down.2.attn.1.q.weight'));
    assert.ok(!names.some((n) => /encoder\.down\.[01]\.attn/.test(n)));
    assert.ok(names.includes('decoder.up.2.attn.1.proj_out.bias'));
  });

  it('names the problem of an unusable config', () => {
    assert.throws(() => parseMagvitConfig({ official_constructor_args: { quantize: { codebook_dim: 10 } } }), /z_channels \(13\) must equal/);
    assert.throws(() => createMagvitConfig({ ch: 24 }), MagvitConfigError); // not divisible by 32 groups
    assert.throws(() => createMagvitConfig({ outputMode: 'palette' }), /palette/);
    assert.throws(() => parseMagvitConfig({ encoder: { double_z: true } }), /double_z/);
    assert.throws(() => parseMagvitConfig([]), MagvitConfigError);
  });

  it('palette mode sets the decoder output to one logit per colour', () => {
    const c = createMagvitConfig({ palette: [[0, 0, 0], [255, 255, 255], [255, 0, 0]] });
    assert.equal(c.outputMode, 'palette');
    assert.equal(c.decoder.outCh, 3);
    assert.deepEqual(parseMagvitConfig(magvitConfigToJson(c)).palette, c.palette);
  });
});
