/** `Buffer` for bundles: the \`buffer\` package (v6: it has the 64-bit reads that safetensors headers need). */
export { Buffer } from 'buffer';
