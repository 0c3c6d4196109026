/**
 * The built-in held-out text for fidelity to dense: plain narrative prose written for this
 * project, on purpose unlike the calibration paragraphs, so a variant is never measured on the
 * text it was calibrated on. Simple words and short sentences keep it in range of the smallest
 * story models as well as of chat models.
 */
export const HELDOUT_TEXT = [
  'Mia had a red kite with a long yellow tail. Every windy morning she ran up the hill behind the school and let the string slip through her fingers until the kite was only a small dot in the sky.',
  'One day the wind stopped all at once. The kite fell and landed in the old oak tree by the pond. Mia pulled the string, but the kite did not move. She sat down on the grass and felt sad.',
  'Her friend Ben came by with his little dog, Pip. "Why are you sad?" he asked. Mia showed him the kite in the tree. Ben looked up for a long time. "I cannot climb that high," he said, "but I know who can help."',
  'They walked to the house of Mr. Gray, who kept bees and grew beans in his garden. He took a long ladder from his shed and carried it to the oak tree. Pip barked at the ladder the whole way there.',
  'Mr. Gray climbed slowly, one step at a time. He reached the branch, freed the kite and handed it down to Mia. The yellow tail was torn, but the kite was still whole. Mia said thank you three times.',
  'That evening her mother helped her sew the tail back together with blue thread. "Now it has a story," her mother said. The next morning the wind came back, and the kite flew higher than ever before.',
  'Ben and Pip watched from the bottom of the hill. When the kite came down, Mia let Ben hold the string. He laughed as it pulled his arms toward the clouds. Pip ran in circles and chased its shadow across the grass.',
].join('\n\n');

export const HELDOUT_LABEL = 'built-in';

/** The text fidelity to dense is measured on, with the name results give it. */
export interface HeldOutText {
  text: string;
  label: string;
}
