#pragma once
// The worker side and the launcher side of a data-parallel `rllm train`.
// A worker learns its place from the variables PyTorch's launchers set
// (torchrun, a Kubernetes job) or from SLURM's; `rllm train --nproc N`
// starts N workers on this machine itself. No LibTorch here.

#include "models/Engine.h"

#include <string>
#include <vector>

namespace rllm::cli {

// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
// (or SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE when
// RANK and WORLD_SIZE are absent). Nothing set: one worker. Throws
// UsageError for a partial or malformed set, naming the variable.
DistributedOptions distributedFromEnvironment(int timeoutSeconds);

// Starts `workers` copies of this program as `rllm train ARGS` with the
// variables above (MASTER_ADDR 127.0.0.1 and a free port), waits for them
// and returns the exit status: 0 when every worker succeeded. When one fails,
// the others are given `timeoutSeconds` to notice and stop on their own, then
// they are terminated; what happened to each is said on stderr.
int runLocalWorkers(int workers, const std::vector<std::string>& trainArgs, int timeoutSeconds);

}  // namespace rllm::cli
