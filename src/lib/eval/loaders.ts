/**
 * Readers for the native formats (JSON Lines, CSV, JSON documents, NumPy .npy) that keep line
 * numbers, so a loader can reject one malformed line or record with its file and line and keep
 * the rest. They take contents, never paths: the same code reads files fetched by the page and
 * files read by node in tests. One module per format under read/; this one gathers them.
 */
export * from './read/records';
export { LineIndex } from './read/line-index';
export * from './read/json-lines';
export * from './read/csv';
export * from './read/json';
export * from './read/npy';
