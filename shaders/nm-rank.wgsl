// N:M selection shared by nm.wgsl (magnitude, Wanda) and block.wgsl (SparseGPT). In a group
// of len ≤ NM_MAX_M scores an entry's rank counts the entries pruned before it (lower score,
// or equal score and higher index: the lower index is kept); ranks below nm_prune_count are
// pruned. A short last group prunes ⌊N·len/M⌋.

// Largest M of an N:M pattern the selection holds.
const NM_MAX_M : u32 = 32u;

fn nm_prune_count(n : u32, m : u32, len : u32) -> u32 {
  if (len != m) {
    return (n * len) / m;
  }
  return n;
}

fn nm_rank(sc : ptr<function, array<f32, NM_MAX_M>>, j : u32, len : u32) -> u32 {
  var rank = 0u;
  for (var k = 0u; k < len; k++) {
    if (k != j && ((*sc)[k] < (*sc)[j] || ((*sc)[k] == (*sc)[j] && k > j))) {
      rank++;
    }
  }
  return rank;
}
