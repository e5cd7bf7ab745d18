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
//
// Where nothing records gradients (inference: the viewer's predictions,
// evaluation, EigenCAM), what follows a product, an activation, a factor or
// a residual addition, is done by oneDNN in the product's own pass
// (DenseEpilogue), and the attention's three steps write into one buffer
// (attention()). It saves a few per cent of a forward (the attention 0.70x
// its separate steps' time at 50 tokens, fc1 + GELU 0.95-0.98x, the
// residual addition nothing; `rllm-bench --kernels`): the products take
// most of a block's time. While gradients are recorded the same functions
// run the steps one by one, as autograd needs.
#include <torch/types.h>

#include <string>

namespace rllm {

enum class CpuGemm { Blas, OneDnn };

// What a dense layer's result goes through, in this order:
// activation(x w^T + b) * multiply + add, `multiply` and `add` (either may
// be undefined) of the result's shape.
struct DenseEpilogue {
    enum class Activation { None, Gelu, Silu };
    Activation activation = Activation::None;  // Gelu: the exact (erf) one
    torch::Tensor multiply;
    torch::Tensor add;

    // The same as separate operations on a result y (broadcasting as
    // LibTorch's operators do): what autograd records.
    torch::Tensor applyTo(torch::Tensor y) const;
};

// x (..., in) times weight (out, in) transposed, plus bias (out) if defined:
// what torch::nn::functional::linear computes, then `after`.
torch::Tensor denseLinear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, const DenseEpilogue& after = {});

// a (..., m, k) times b (..., k, n), the leading sizes the same in both:
// torch::matmul's result (which also broadcasts; this falls back to it then).
torch::Tensor batchedMatmul(const torch::Tensor& a, const torch::Tensor& b);

// softmax(q k^T / sqrt(d)) v for q (B, H, Tq, d) and k, v (B, H, T, d), with
// the heads side by side: (B, Tq, H d), what the output projection reads.
// LibTorch 2 has it as one operation (scaled_dot_product_attention: flash
// and memory-efficient kernels on CUDA, a fused loop on the CPU); 1.x
// computes it in three. On the CPU with oneDNN, a few heads at a time so
// that their scores stay in the cache: scaled scores, an in-place softmax
// and the second product straight into the merged layout, no copy of q, k
// or v; while gradients are recorded, the backward pass computes the
// weights again rather than keeping them.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// Whether this build has oneDNN. Without it CpuGemm::OneDnn acts as Blas.
bool oneDnnBuilt();

// The library the CPU's products use: OneDnn by default where it is built,
// unless the environment says RLLM_CPU_GEMM=blas (for comparisons).
// setCpuThreads divides the threads by it, so call that again after a change.
CpuGemm cpuGemm();
void setCpuGemm(CpuGemm gemm);
std::string cpuGemmName(CpuGemm gemm);

}  // namespace rllm
