#!/usr/bin/env bash
# One ctlab shard per Slurm array task, then a merge. Submit the array and a merge that waits for it:
#
#   jid=$(sbatch --parsable --array=0-7 docs/slurm/ctlab-array.sh)
#   sbatch --dependency=afterok:"$jid" docs/slurm/ctlab-array.sh merge
#
# The array's size is the shard count (indices must start at 0). A task that fails or is
# preempted can be resubmitted alone, naming the count the array had
# (`sbatch --array=5 --export=ALL,SHARDS=8 …`): it finds its stored runs in its own browser
# profile and resumes its units. Settings come from the environment, e.g.
#   sbatch --export=ALL,MODEL=HuggingFaceTB/SmolLM2-135M-Instruct,PRESET=paper --array=0-7 …
#SBATCH --job-name=ctlab
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=24:00:00
#SBATCH --output=ctlab-%A_%a.log
set -euo pipefail

MODEL=${MODEL:-HuggingFaceTB/SmolLM2-135M-Instruct}
VARIANTS=${VARIANTS:-paper}
PERSPECTIVES=${PERSPECTIVES:-all}
PRESET=${PRESET:-paper}
SEEDS=${SEEDS:-0,1,2}
# Shared storage every task sees: shard files, the merged file, and each shard's browser profile.
WORK=${WORK:-$PWD/ctlab-work}
# The ctlab command: a checkout's `npx ctlab`, or the container image through Apptainer, e.g.
#   CTLAB="apptainer run --bind $WORK docker://registry.example/ctlab:latest"
CTLAB=${CTLAB:-npx ctlab}
mkdir -p "$WORK/results" "$WORK/profiles"

if [ "${1:-}" = merge ]; then
  # shellcheck disable=SC2086 # CTLAB is a command line
  exec $CTLAB merge "$WORK"/results/r*.json --out "$WORK/results.json" --report "$WORK/report.html"
fi

INDEX=${SLURM_ARRAY_TASK_ID:?run this script as a Slurm array task (sbatch --array=0-N)}
# SHARDS when a task is resubmitted alone (its own array then counts one task).
COUNT=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:?run this script as a Slurm array task}}
# Tasks sharing a node need their own port; a restarted task must get the same one, since the
# browser keeps its stored runs per origin.
PORT=$((47700 + INDEX))

# shellcheck disable=SC2086 # CTLAB is a command line
exec $CTLAB eval --model "$MODEL" --variants "$VARIANTS" --perspectives "$PERSPECTIVES" \
  --preset "$PRESET" --seeds "$SEEDS" --shard "$INDEX/$COUNT" \
  --profile "$WORK/profiles/shard-$INDEX" --port "$PORT" \
  --out "$WORK/results/r$INDEX.json"
