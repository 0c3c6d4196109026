/** The compression engine's pure-TypeScript core: reference implementations and CPU fallback. */
export * from './types';
export * from './quantizer';
export * from './linalg';
export * from './stats';
export * from './prune';
export * from './solver';
export * from './magnitude';
export * from './wanda';
export * from './sparsegpt';
export * from './gptq';
export * from './awq';
export * from './pack';
export * from './error';
export * from './block';
export * from './settings';
export * from './structure';
