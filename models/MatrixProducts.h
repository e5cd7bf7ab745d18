#pragma once
// The networks' matrix products: the dense (fully connected) layers and the
// attention's batched products. On the CPU in float32 they go through
// oneDNN's matrix multiply where this build has oneDNN: at a ViT-S's shapes
// (50-200 rows of 384-1536 columns) its JIT kernels take 0.7-0.9x the time
// of OpenBLAS's on two cores (the 7B-shaped block's larger products: the
// same), and with them every CPU thread sits in one OpenMP pool that
// LibTorch's own kernels share (setCpuThreads); `rllm-bench --kernels`
// measures both, docs/results.md has the figures. Elsewhere (CUDA, other
// types, a build without oneDNN) they are LibTorch's own linear and matmul.
//
// The results are the same products up to float32 rounding (another
// summation order), and so are the gradients: the oneDNN path is an
// autograd function with its own backward, also through oneDNN (first
// derivatives only: nothing here takes second ones).
#include <torch/types.h>

#include <string>

namespace rllm {

enum class CpuGemm { Blas, OneDnn };

// x (..., in) times weight (out, in) transposed, plus bias (out) if defined:
// what torch::nn::functional::linear computes.
torch::Tensor denseLinear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias);

// a (..., m, k) times b (..., k, n), the leading sizes the same in both:
// torch::matmul's result (which also broadcasts; this falls back to it then).
torch::Tensor batchedMatmul(const torch::Tensor& a, const torch::Tensor& b);

// Whether this build has oneDNN. Without it CpuGemm::OneDnn acts as Blas.
bool oneDnnBuilt();

// The library the CPU's products use: OneDnn by default where it is built,
// unless the environment says RLLM_CPU_GEMM=blas (for comparisons).
// setCpuThreads divides the threads by it, so call that again after a change.
CpuGemm cpuGemm();
void setCpuGemm(CpuGemm gemm);
std::string cpuGemmName(CpuGemm gemm);

}  // namespace rllm
