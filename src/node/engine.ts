// The compression engine for Node: what `ctlab … --runtime node` runs, built by `npm run build:node`.
export { installDawn } from './dawn';
export { startNodeSimdHelpers } from './cpu-helpers';
export { benchCompress } from '../lib/bench/compress';
export { describeAdapter, gpuRuntime } from '../lib/gpu/device';
export { compressLayers } from '../lib/compress/engine/driver';
export { createBlockRunner } from '../lib/compress/engine/block-runner';
export { mapSource } from '../lib/compress/engine/layer-source';
export { resolveSettings } from '../lib/compress/reference/settings';
export { requestDevice } from '../lib/gpu/device';
export { randomWeights } from '../lib/model/random-model';
export { smollm2Spec } from '../lib/bench/decode';
export { dampedInverseFactor } from '../lib/compress/reference/linalg';
export { compressFolder, folderSource, type FolderProgress } from './compress-folder';
