import type { ArchitectureFamily } from './family';
import { gemma3 } from './gemma3';
import { llama } from './llama';
import { mistral } from './mistral';
import { qwen2 } from './qwen2';
import { qwen3 } from './qwen3';

export type { ArchitectureFamily, CommonShape, FamilyFields } from './family';

/** Every family this project builds and compresses; a new family is one module added here. */
export const ARCHITECTURES: readonly ArchitectureFamily[] = [llama, mistral, qwen2, qwen3, gemma3];

export function familyForModelType(modelType: unknown): ArchitectureFamily | undefined {
  return ARCHITECTURES.find((a) => a.modelTypes.includes(modelType as string));
}

export function familyById(id: string): ArchitectureFamily {
  const f = ARCHITECTURES.find((a) => a.id === id);
  if (!f) throw new Error(`no architecture family "${id}"`);
  return f;
}

export function supportNote(): string {
  return `Compressed Trust Lab supports ${ARCHITECTURES.flatMap((a) => a.modelTypes).join(', ')}.`;
}
