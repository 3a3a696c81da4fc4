// `webgpu` (Dawn for Node) is an optional package, installed only to train on a GPU (gpu-train.sh): without this
// declaration a fresh clone would fail `npm run typecheck` on webgpu-train-entry.ts's import of it.
declare module 'webgpu';
