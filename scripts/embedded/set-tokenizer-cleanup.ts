// Sets the palette speck cleanup (`palette_min_region`, see MagvitConfig.paletteMinRegion) in the config stored in
// a tokenizer's safetensors metadata, in place (atomically). It changes only decoding (codes → images), so a
// Show-o trained on the tokenizer's codes is unaffected.
//
//   node --import tsx scripts/embedded/set-tokenizer-cleanup.ts FILE.safetensors [--min-region 24]
import path from 'node:path';
import { readSafetensors, writeSafetensors } from '@showo/runtime';
import { CONFIG_METADATA_KEY, magvitConfigToJson, parseMagvitConfig } from '@showo/tokenizer-magvit';
import { arg, log } from './common.js';

const file = path.resolve(process.argv[2] ?? '');
const minRegion = Number(arg('min-region', '24'));
const { tensors, metadata } = readSafetensors(file);
const config = parseMagvitConfig(JSON.parse(metadata[CONFIG_METADATA_KEY]!));
config.paletteMinRegion = minRegion;
writeSafetensors(file, tensors, { ...metadata, [CONFIG_METADATA_KEY]: JSON.stringify(magvitConfigToJson(config)) });
log(`${file}: palette_min_region ${minRegion}`);
