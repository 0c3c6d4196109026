/**
 * The trust evaluation engine (model-independent part). See registry.ts for how a runner calls a
 * perspective end to end, DecodingTrust (Wang et al., 2023) and docs/design.md for the protocol.
 */
export * from './types';
export * from './presets';
export { PERSPECTIVES, getPerspective, perspectivesForFile, routeFiles, planPerspective, scorePerspective, describeRun } from './registry';
export type { Plan, PlannedPrompt } from './registry';
export * from './sources';
export { lexiconProxyScorer, classifierScorer, LEXICON_PROXY_NAME } from './toxicity-scorers';
export type { TextClassificationFn, ClassifierScorerOptions } from './toxicity-scorers';
export { rescoreSavedRecords, isSavedRecords } from './rescore';
export type { SavedRecords } from './rescore';
export { readCachedFile, completionTexts, pathAfter } from './dt-cache';
export type { CachedFile, CachedGeneration } from './dt-cache';
export type { StereotypeItem, StereotypeParsed } from './stereotype';
export type { ToxicityItem, ToxicityParsed } from './toxicity';
export type { AdvGlueItem, AdvGlueParsed } from './adv-robustness';
export type { OodItem, OodParsed } from './ood';
export type { AdvDemoItem, AdvDemoParsed } from './adv-demonstration';
export type { PrivacyItem, PrivacyParsed } from './privacy';
export type { FairnessItem, FairnessParsed } from './fairness';
export type { EthicsItem, EthicsParsed } from './machine-ethics';
export type { MmluItem, MmluParsed } from './mmlu';
