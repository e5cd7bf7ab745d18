#pragma once
// AdamW's update for all of an optimizer's parameters at once.
//
// LibTorch's C++ torch::optim::AdamW updates one parameter at a time: about
// ten small kernels per tensor, some 1,500 launches a step for a ViT-S
// (about 150 parameter tensors). On a GPU at small batches the launches,
// not the arithmetic, are the suspect for the step's time (docs/gpu.md),
// and PyTorch's Python AdamW avoids them with its multi-tensor ("foreach")
// path. stepAdamWMultiTensor applies the same update through
// ATen's _foreach_ kernels, on the optimizer's own parameter groups and
// state, so checkpoints and resuming are unchanged. On the CPU the foreach
// kernels run the per-tensor operations in the same order: the result is
// the same to the bit as AdamW::step (tested).
#include <cstdint>

namespace at {
class Tensor;
}
namespace torch {
using at::Tensor;
namespace optim {
class AdamW;
struct AdamWParamState;
}  // namespace optim
}  // namespace torch

namespace rllm {

// One decoupled-weight-decay Adam step, as torch::optim::AdamW::step()
// defines it (no AMSGrad: refused), for every parameter with a gradient.
void stepAdamWMultiTensor(torch::optim::AdamW& optimizer);

// The step training takes: the multi-tensor one for parameters on a GPU,
// LibTorch's own a tensor at a time on the CPU, where it is the faster (each
// tensor's whole update runs while the tensor is in cache; the foreach
// kernels make eight passes over all the weights: a ViT-S step 37-39
// against 85-93 ms on two cores, `rllm-bench --kernels`). Both give the
// same result to the bit on the CPU.
void stepAdamW(torch::optim::AdamW& optimizer);

// The optimizer's state of one parameter, or nullptr before its first step.
torch::optim::AdamWParamState* adamWState(torch::optim::AdamW& optimizer,
                                          const torch::Tensor& parameter);

// Sets the optimizer's state of `parameter` (resuming a checkpoint) and
// returns it.
torch::optim::AdamWParamState& setAdamWState(torch::optim::AdamW& optimizer,
                                             const torch::Tensor& parameter, int64_t step,
                                             const torch::Tensor& expAvg,
                                             const torch::Tensor& expAvgSq);

}  // namespace rllm
