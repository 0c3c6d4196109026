#!/usr/bin/env node
// @ts-check
// One archive that runs the GPU benchmarks (src/node/reference-bench.ts, src/node/engine-bench.ts)
// on a Linux GPU machine with an NVIDIA driver and PyTorch but no Node: this machine's node binary
// (xz-compressed), each entry built self-contained (every package inlined but Dawn's `webgpu`,
// which ships a native module), Dawn's linux-x64 binding, Debian's Vulkan loader and libglvnd,
// the Python reference and run.sh. `npm run bench:gpu`; prints how to run it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist-gpu-bench');
const name = 'ctlab-gpu-bench';
const stage = join(outDir, name);
const archive = join(outDir, `${name}.tar.gz`);
const LIMIT = 60 * 1024 * 1024;
const log = (/** @type {string} */ line) => process.stderr.write(`${line}\n`);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

const { build } = await import('vite');
// Each entry self-contained (one file), so each is its own build.
for (const entry of ['reference-bench', 'engine-bench']) {
  log(`building dist-node/${entry}.mjs self-contained`);
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    cacheDir: process.env.CTLAB_VITE_CACHE ?? join(root, 'node_modules/.vite'),
    ssr: { noExternal: true, external: ['webgpu'] },
    build: {
      ssr: join(root, `src/node/${entry}.ts`),
      target: 'node20',
      outDir: join(stage, 'dist-node'),
      emptyOutDir: false,
      rollupOptions: {
        // ORT's block forward runs only in the page (engine-bench refuses it): its dynamic import
        // stays a dangling import instead of pulling onnxruntime-web and transformers.js in.
        external: (id) => id === 'webgpu' || /compress\/engine\/ort-block(\.ts)?$/.test(id),
        output: { format: 'es', entryFileNames: `${entry}.mjs`, codeSplitting: false },
        // Neither benchmark opens an ORT session; modules they import use onnxruntime-web only in
        // their other functions, so drop it rather than inline 20 MB.
        treeshake: { moduleSideEffects: (id) => !/node_modules\/(onnxruntime-web|@huggingface)\//.test(id) },
      },
    },
  });
}
const bundled = readdirSync(join(stage, 'dist-node')).sort();
if (bundled.join() !== 'engine-bench.mjs,reference-bench.mjs')
  throw new Error(`expected two self-contained files, got ${bundled.join(', ')}`);

log('copying the Python reference and Dawn');
mkdirSync(join(stage, 'bench', 'reference'), { recursive: true });
for (const f of readdirSync(join(root, 'bench', 'reference')).filter((f) => f.endsWith('.py')))
  copyFileSync(join(root, 'bench', 'reference', f), join(stage, 'bench', 'reference', f));
const webgpu = join(root, 'node_modules', 'webgpu');
const dawn = join(stage, 'node_modules', 'webgpu');
mkdirSync(join(dawn, 'dist', 'linux-x64'), { recursive: true });
for (const f of ['index.js', 'package.json', 'LICENSE.md']) copyFileSync(join(webgpu, f), join(dawn, f));
copyFileSync(join(webgpu, 'dist', 'linux-x64', 'dawn.node'), join(dawn, 'dist', 'linux-x64', 'dawn.node'));

log(`compressing ${process.execPath} (xz)`);
mkdirSync(join(stage, 'bin'));
execFileSync('sh', ['-c', `xz -T0 -6 -c "${process.execPath}" > "${join(stage, 'bin', 'node.xz')}"`], { stdio: 'inherit' });

// The Vulkan loader, and libglvnd's dispatch libraries that NVIDIA's ICD (libGLX_nvidia.so.0)
// links against: on an H200 container without them the loader found the ICD but "no drivers".
const PACKAGES = ['libvulkan1', 'libglvnd0', 'libglx0'];
log(`fetching ${PACKAGES.join(', ')} (Debian packages)`);
const debDir = mkdtempSync(join(tmpdir(), 'ctlab-vulkan-'));
try {
  const download = () => execFileSync('apt-get', ['download', ...PACKAGES], { cwd: debDir, stdio: 'pipe' });
  try {
    download();
  } catch {
    // A fresh machine has no package lists yet.
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    download();
  }
  const debs = readdirSync(debDir).filter((f) => f.endsWith('.deb'));
  if (debs.length !== PACKAGES.length) throw new Error(`apt-get download ${PACKAGES.join(' ')} left ${debs.join(', ') || 'nothing'}`);
  for (const deb of debs) execFileSync('dpkg-deb', ['-x', join(debDir, deb), join(debDir, 'x')]);
  const libDir = join(debDir, 'x', 'usr', 'lib', 'x86_64-linux-gnu');
  mkdirSync(join(stage, 'lib'));
  for (const f of readdirSync(libDir).filter((f) => /^lib(vulkan|GLdispatch|GLX)\.so/.test(f)))
    cpSync(join(libDir, f), join(stage, 'lib', f), { verbatimSymlinks: true });
  writeFileSync(join(stage, 'lib', 'SOURCE'), `${debs.join('\n')}\n(Debian)\n`);
} finally {
  rmSync(debDir, { recursive: true, force: true });
}

writeFileSync(join(stage, 'run.sh'), RUN_SH());
chmodSync(join(stage, 'run.sh'), 0o755);

log('packing');
execFileSync('tar', ['-czf', archive, '-C', outDir, name]);
rmSync(stage, { recursive: true, force: true });
const size = statSync(archive).size;
if (size > LIMIT) throw new Error(`${archive} is ${(size / 2 ** 20).toFixed(1)} MiB, over the 60 MiB limit`);
process.stdout.write(`${archive} (${(size / 2 ** 20).toFixed(1)} MiB)

On the GPU machine (Linux x86-64, NVIDIA driver, PyTorch with CUDA; no Node needed):
  tar -xzf ${basename(archive)} && ./${name}/run.sh
  ./${name}/run.sh engine      (the engine's own true-sequential run of the paper grid, 2 layers)
run.sh compresses one SmolLM2-135M-shaped layer with 128 × 512 calibration tokens per method
(AWQ: 8 × 512, as our AWQ scores candidates on the CPU) on our WGSL kernels (Dawn on the NVIDIA
Vulkan adapter) and on the PyTorch reference (cuda), and prints the tables. Options after run.sh
make it one run of all methods with those options on top (later ones win), e.g.
  ./${name}/run.sh --methods gptq,sparsegpt --layers 2
  ./${name}/run.sh --samples 4 --seq-len 64 --backend numpy      (a quick check)
Anywhere without a GPU, VK_ICD_FILENAMES=<SwiftShader's icd.json> runs the same on the CPU.
`);

function RUN_SH() {
  return `#!/bin/sh
# The reference benchmark on a GPU machine: our WGSL kernels through Dawn on the NVIDIA
# Vulkan adapter against the PyTorch reference on cuda, one SmolLM2-135M-shaped layer,
# 128 x 512 calibration tokens (AWQ: 8 x 512). Arguments replace that default pair of runs
# with one run of all methods, 128 x 512 unless they say otherwise (later ones win).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
node="$here/bin/node"
if [ ! -x "$node" ]; then
  if command -v xz >/dev/null 2>&1; then xz -dc "$here/bin/node.xz" > "$node.part"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$here/bin/node.xz" "$node.part"
  fi
  chmod +x "$node.part" && mv "$node.part" "$node"
fi
# Debian's Vulkan loader and libglvnd, for machines that have the driver's ICD but not these.
export LD_LIBRARY_PATH="$here/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
adapter=NVIDIA
if [ -z "\${VK_ICD_FILENAMES:-}" ]; then
  icd=""
  for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json; do
    [ -f "$f" ] && icd="$f" && break
  done
  if [ -z "$icd" ] && ldconfig -p 2>/dev/null | grep -q libGLX_nvidia.so.0; then
    # Some containers mount the driver's Vulkan library without its ICD manifest.
    icd="$here/nvidia_icd.json"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}\\n' > "$icd"
  fi
  if [ -n "$icd" ]; then export VK_ICD_FILENAMES="$icd"; echo "run.sh: Vulkan ICD $icd" >&2
  else echo "run.sh: no NVIDIA Vulkan ICD found (nvidia_icd.json, libGLX_nvidia.so.0); Dawn will take what it finds" >&2
  fi
else
  adapter=""
fi
python3 -c 'import torch; print("run.sh: torch", torch.__version__, "cuda", torch.cuda.is_available(), file=__import__("sys").stderr)' 2>/dev/null || echo "run.sh: no torch here; the reference runs on numpy" >&2
if [ "\${1:-}" = engine ]; then
  # The engine's true-sequential compression (calibration forwards and kernels on the adapter).
  shift
  set -- \${adapter:+--adapter $adapter} "$@"
  exec "$node" "$here/dist-node/engine-bench.mjs" "$@"
fi
run() {
  if ! "$node" "$here/dist-node/reference-bench.mjs" "$@"; then
    echo "run.sh: the WebGPU run failed; the same with our TypeScript kernels, so the reference's numbers still come" >&2
    "$node" "$here/dist-node/reference-bench.mjs" "$@" --kernels typescript
  fi
}
defaults="--kernels webgpu --layers 1 --seq-len 512"
[ -n "$adapter" ] && defaults="$defaults --adapter $adapter"
if [ $# -gt 0 ]; then
  run $defaults --samples 128 "$@"
else
  run $defaults --samples 128 --methods rtn,gptq,magnitude,wanda,sparsegpt
  # Our AWQ scores its 20 candidates with the TypeScript forward on the CPU (as the engine
  # does), about an hour at 128 x 512 tokens; 8 x 512 keeps it to minutes.
  run $defaults --samples 8 --methods awq
fi
`;
}
