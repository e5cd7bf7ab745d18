#pragma once
// Data-parallel training over several processes, on PyTorch's own distributed
// engine (c10d): a TCPStore for the rendezvous, Gloo for the collectives on
// CPU, NCCL for CUDA tensors where this LibTorch has it. One process per
// rank; they find each other the way torchrun's workers do (RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT; models/Engine.h, DistributedOptions).
//
// Internal to the models layer (it holds LibTorch types).

#include "models/Engine.h"

#include <torch/torch.h>

#include <memory>
#include <vector>

namespace rllm {

class DataParallelGroup {
  public:
    // Joins the group: rank 0 hosts the rendezvous, the others connect to it.
    // Throws Error naming the address when the group does not form within
    // the time-out.
    explicit DataParallelGroup(const DistributedOptions& options);
    ~DataParallelGroup();
    DataParallelGroup(const DataParallelGroup&) = delete;
    DataParallelGroup& operator=(const DataParallelGroup&) = delete;

    int rank() const;
    int size() const;
    bool isLeader() const { return rank() == 0; }

    // Every rank ends with rank 0's values (the start of training).
    void broadcastFromLeader(const std::vector<torch::Tensor>& tensors);
    // Sums the gradients of `parameters` over the ranks, in place, as one
    // flat buffer (one collective per step, not one per tensor).
    void sumGradients(const std::vector<torch::Tensor>& parameters);
    double sum(double value);
    // Rows of every rank's `local` (same shape on every rank), rank 0's first.
    torch::Tensor gatherRows(const torch::Tensor& local);
    // Every rank scored its shard (shardOf) of n cases, `columns` values per
    // case; every rank gets all n rows, in case order.
    std::vector<std::vector<float>> gatherShards(const std::vector<std::vector<float>>& mine,
                                                 int64_t n, int64_t columns);
    void barrier();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The cases of an n-case batch (or split) that `rank` of `size` takes: a
// contiguous chunk of ceil(n / size); the last ranks may get fewer or none.
struct RankShard {
    int64_t start = 0, count = 0;
};
RankShard shardOf(int64_t n, int rank, int size);

}  // namespace rllm
