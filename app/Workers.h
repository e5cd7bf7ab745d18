#pragma once
// The worker side and the launcher side of the commands that run as several
// workers: `rllm train` (data-parallel), `rllm cam-eval` and `rllm compare`
// (each worker takes a share of the cases). A worker learns its place from
// the variables PyTorch's launchers set (torchrun, a Kubernetes job) or from
// SLURM's; `--nproc N` starts N workers on this machine itself. No LibTorch here.

#include "app/CliSupport.h"
#include "models/Engine.h"

#include <optional>

#include <string>
#include <vector>

namespace rllm::cli {

// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
// (or SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE when
// RANK and WORLD_SIZE are absent). Nothing set: one worker. Throws
// UsageError for a partial or malformed set, naming the variable.
DistributedOptions distributedFromEnvironment(int timeoutSeconds);

// Starts `workers` copies of this program as `rllm COMMAND ARGS` with the
// variables above (MASTER_ADDR 127.0.0.1 and a free port), waits for them
// and returns the exit status: 0 when every worker succeeded. When one fails,
// the others are given `timeoutSeconds` to notice and stop on their own, then
// they are terminated; what happened to each is said on stderr.
int runLocalWorkers(int workers, const std::string& command, const std::vector<std::string>& args,
                    int timeoutSeconds);

// The help of the options every such command takes: --nproc N (start N
// local workers) and --worker-timeout S (default 300).
extern const char* const kWorkerOptionsHelp;

// With --nproc: starts the workers (the same command and arguments, less
// --nproc) and returns their exit status. Without: fills `distributed` from
// the environment and returns nothing, and the caller does its share.
std::optional<int> startWorkersIfAsked(const std::string& command, const ParsedArgs& parsed,
                                       const std::vector<std::string>& args,
                                       DistributedOptions& distributed);

}  // namespace rllm::cli
