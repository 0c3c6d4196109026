// The compression engine for Node: what `ctlab … --runtime node` runs, built by `npm run build:node`.
export { installDawn } from './dawn';
export { benchCompress } from '../lib/bench/compress';
export { describeAdapter, gpuRuntime } from '../lib/gpu/device';
export { compressFolder, folderSource, type FolderProgress } from './compress-folder';
