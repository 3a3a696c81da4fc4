#!/usr/bin/env bash
# Trains the embedded Show-o for a fixed time on a GPU machine through tfjs's webgpu backend (Dawn + Vulkan), with
# the same trainer, data and stage configs as the CPU runs. Two halves:
#
#   bash scripts/embedded/gpu-train.sh pack INIT_MODEL_DIR
#       (here, with network) bundles train-showo.ts into scripts/embedded/train.gpu.mjs and fills .gpu/ with what
#       a bare machine without a registry needs: node, the `webgpu` package (linux-x64 dawn.node), the Vulkan
#       loader (libvulkan1) and the public eval files; INIT_MODEL_DIR is copied to .gpu/init.
#   bash scripts/embedded/gpu-train.sh run OUT_DIR [SECONDS]
#       (on the GPU machine) unpacks .gpu/, checks that WebGPU finds an adapter, times 12 steps of stage 21 (or
#       takes STEP_MS), sizes the run (--total-steps) to the seconds left, trains, and copies the newest checkpoint
#       (a whole trainer checkpoint: export-checkpoint.ts --checkpoint OUT_DIR [--averaged] reads it) and run.log
#       to OUT_DIR.
#
# Seen on an H200 (2026-11-27): 84 sequences (~22 000 tokens) a step in 1.2 s on average (18 900 tokens/s), until the
# device ran out of memory after ~200 steps (tfjs-webgpu's buffer pool); 1.5 s with the pool purged every 3 s
# (webgpu-train-entry.ts now purges only past SHOWO_WEBGPU_POOL_MB).
#
# Both outputs are git-ignored (.gitignore), so the device tool carries them only when asked to.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?pack or run}

if [ "$mode" = pack ]; then
  init=${2:?INIT_MODEL_DIR}
  for p in webgpu @tensorflow/tfjs-backend-webgpu; do
    [ -d "node_modules/$p" ] || { echo "node_modules/$p missing: npm install --no-save webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0" >&2; exit 1; }
  done
  npx esbuild scripts/embedded/webgpu-train-entry.ts --bundle --platform=node --format=esm --target=node20 --minify \
    --external:webgpu --external:@tensorflow/tfjs-backend-wasm --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
    --tsconfig=tsconfig.json --outfile=scripts/embedded/train.gpu.mjs \
    --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);"
  rm -rf .gpu && mkdir -p .gpu/shared .gpu/init
  cp "${SHOWO_SHARED:-../shared/shapes-world}"/{t2i,mmu}-public.jsonl .gpu/shared/
  cp "$init"/config.json "$init"/model.safetensors .gpu/init/
  # The Vulkan loader and the GL vendor-neutral libraries the NVIDIA ICD (libGLX_nvidia) needs to load at all:
  # without libglvnd0 the loader reports "Could not get 'vkCreateInstance'" and Dawn finds no adapter.
  (cd .gpu && apt-get download libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 >/dev/null)
  xz -T2 -9 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
  (cd node_modules && tar -cJf ../.gpu/webgpu.tar.xz webgpu/index.js webgpu/package.json webgpu/dist/linux-x64/dawn.node)
  du -sh .gpu scripts/embedded/train.gpu.mjs
  exit 0
fi

[ "$mode" = run ] || { echo "unknown mode $mode" >&2; exit 2; }
out=${2:?OUT_DIR}
budget=${3:-480}
bench_steps=${BENCH_STEPS:-12}
start=$(date +%s)
mkdir -p "$out" /tmp/gpu/bin
python3 - <<'EOF'
import lzma, shutil, tarfile
with lzma.open('.gpu/node.xz') as src, open('/tmp/gpu/bin/node', 'wb') as dst: shutil.copyfileobj(src, dst)
tarfile.open('.gpu/webgpu.tar.xz').extractall('node_modules')
EOF
chmod +x /tmp/gpu/bin/node
export PATH=/tmp/gpu/bin:$PATH
for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
echo "node $(node --version); ICD ${VK_DRIVER_FILES:-(loader default)}"
cat > /tmp/gpu/probe.mjs <<'EOF'
const { create, globals } = await import(process.cwd() + '/node_modules/webgpu/index.js');
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) { console.log('no WebGPU adapter'); process.exit(3); }
console.log('adapter', JSON.stringify({ vendor: adapter.info.vendor, architecture: adapter.info.architecture, description: adapter.info.description }));
console.log('limits', JSON.stringify({ maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage, maxBufferSize: adapter.limits.maxBufferSize }));
process.exit(0);
EOF
node /tmp/gpu/probe.mjs 2>&1 | grep -v '^Warning' | tee "$out/run.log"

common=(--backend webgpu --codes models/shapes-world-next/patch-codebook.json --no-ship --stages 21
  --init .gpu/init --eval-every 1000000000 --ema 0.998)
export SHOWO_SHARED=$PWD/.gpu/shared
# STEP_MS (a step's time measured by an earlier run) skips the timing run.
[ -n "${STEP_MS:-}" ] && echo "s21 step $bench_steps given ${STEP_MS} ms" > /tmp/gpu/bench.log ||
node scripts/embedded/train.gpu.mjs "${common[@]}" --dir /tmp/gpu/bench --smoke "$bench_steps" 2>&1 | grep -v '^Warning\|maxDynamic' | tee /tmp/gpu/bench.log | grep -E "step (1|2|$bench_steps) |rror" || true
ms=$(grep -oE "s21 step $bench_steps .* ([0-9]+) ms" /tmp/gpu/bench.log | grep -oE '[0-9]+ ms' | tail -1 | cut -d' ' -f1)
[ -n "$ms" ] || { echo "bench failed"; exit 4; }
left=$(( budget - ($(date +%s) - start) - 45 ))
steps=$(( left * 1000 / ms ))
echo "step ${ms} ms; ${left} s left -> ${steps} steps" | tee -a "$out/run.log"
[ "$steps" -ge 50 ] || { echo "too few steps"; exit 5; }
timeout $(( left + 30 )) node scripts/embedded/train.gpu.mjs "${common[@]}" --dir /tmp/gpu/run --total-steps "$steps" 2>&1 | grep -v '^Warning\|maxDynamic' >> "$out/run.log" || true
tail -4 "$out/run.log"
ck=$(ls -d /tmp/gpu/run/stage21/checkpoints/step-* | tail -1)
cp "$ck"/* /tmp/gpu/run/stage21/metrics.jsonl "$out"/
echo "copied $ck"
