#include "MatrixProducts.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#ifdef RLLM_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#include <map>
#include <unordered_map>
#include <vector>
#endif

namespace rllm {

namespace {
CpuGemm defaultGemm() {
    const char* env = std::getenv("RLLM_CPU_GEMM");
    if (env && std::strcmp(env, "blas") == 0) return CpuGemm::Blas;
    return oneDnnBuilt() ? CpuGemm::OneDnn : CpuGemm::Blas;
}
std::atomic<CpuGemm>& currentGemm() {
    static std::atomic<CpuGemm> gemm{defaultGemm()};
    return gemm;
}
}  // namespace

bool oneDnnBuilt() {
#ifdef RLLM_HAVE_ONEDNN
    return true;
#else
    return false;
#endif
}

CpuGemm cpuGemm() {
    return currentGemm().load();
}

void setCpuGemm(CpuGemm gemm) {
    currentGemm().store(gemm);
}

std::string cpuGemmName(CpuGemm gemm) {
    return gemm == CpuGemm::OneDnn ? "onednn" : "blas";
}

torch::Tensor DenseEpilogue::applyTo(torch::Tensor y) const {
    if (activation == Activation::Gelu) y = torch::gelu(y);
    if (activation == Activation::Silu) y = torch::silu(y);
    if (multiply.defined()) y = y * multiply;
    if (add.defined()) y = add + y;
    return y;
}

namespace {

torch::Tensor attentionStepByStep(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
    const torch::Tensor mixed = at::scaled_dot_product_attention(q, k, v);
#else
    const double root = std::sqrt(double(q.size(-1)));
    const torch::Tensor mixed =
        batchedMatmul(torch::softmax(batchedMatmul(q, k.transpose(-2, -1)) / root, -1), v);
#endif
    // (B, H, Tq, dv) -> (B, Tq, H dv)
    return mixed.transpose(1, 2).reshape({q.size(0), q.size(2), q.size(1) * mixed.size(3)});
}

}  // namespace

#ifdef RLLM_HAVE_ONEDNN
namespace {

// A float32 tensor as oneDNN sees it: its sizes and strides, so a
// transposed or permuted view is read (or written) in place rather than copied.
dnnl::memory::desc describe(const torch::Tensor& t) {
    return dnnl::memory::desc(t.sizes().vec(), dnnl::memory::data_type::f32, t.strides().vec());
}

dnnl::memory wrap(const torch::Tensor& t, const dnnl::engine& engine) {
    return dnnl::memory(describe(t), engine, t.data_ptr<float>());
}

// oneDNN's kernels read each matrix along rows or along columns.
torch::Tensor unitStrided(const torch::Tensor& m) {
    return (m.stride(-1) == 1 || m.stride(-2) == 1) ? m : m.contiguous();
}

const dnnl::engine& cpuEngine() {
    static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
    return cpu;
}

void execute(const dnnl::primitive& primitive,
             const std::unordered_map<int, dnnl::memory>& arguments) {
    thread_local dnnl::stream stream(cpuEngine());
    primitive.execute(stream, arguments);
    stream.wait();
}

// A key part per tensor: rank, sizes and strides (or a mark for none).
void appendLayout(std::vector<int64_t>& key, const torch::Tensor& t) {
    if (!t.defined()) {
        key.push_back(-1);
        return;
    }
    key.push_back(t.dim());
    key.insert(key.end(), t.sizes().begin(), t.sizes().end());
    key.insert(key.end(), t.strides().begin(), t.strides().end());
}

// One primitive per kind, layout, fused work and thread count, created
// once: a primitive's creation (JIT code generation) costs far more than
// running it at these sizes. oneDNN's OpenMP team is LibTorch's pool
// (setCpuThreads sizes it), and a primitive may be tuned to its size. One
// cache per thread: with oneDNN's default (shared) scratchpad a primitive
// must run in the thread that created it, and the viewer runs models on
// worker threads.
class PrimitiveCache {
  public:
    template <typename Make>
    dnnl::primitive get(std::vector<int64_t> key, Make make) {
        key.push_back(omp_get_max_threads());
        auto found = primitives_.find(key);
        if (found != primitives_.end()) return found->second;
        dnnl::primitive primitive = make();
        primitives_.emplace(std::move(key), primitive);
        return primitive;
    }

  private:
    std::map<std::vector<int64_t>, dnnl::primitive> primitives_;
};

PrimitiveCache& cache() {
    thread_local PrimitiveCache instance;
    return instance;
}

// What oneDNN does to a product in the same pass: an output scale (used
// here only where there is no bias), then the post-ops in this order: the
// activation, the factor, the addend (both of the result's sizes).
struct Fused {
    float scale = 1.0f;
    DenseEpilogue::Activation activation = DenseEpilogue::Activation::None;
    torch::Tensor multiply, add;
};

enum PrimitiveKind : int64_t { kMatmul, kSoftmax };

// a (m, k) or (batch..., m, k) times b (k, n) or (batch..., k, n), plus
// biasRow (of the result's rank, 1 everywhere but n) if defined, into `out`
// (any strides), then `fused`.
void productInto(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& biasRow,
                 const torch::Tensor& out, const Fused& fused) {
    using Activation = DenseEpilogue::Activation;
    std::vector<int64_t> key{kMatmul, int64_t(fused.activation)};
    int32_t scaleBits;
    std::memcpy(&scaleBits, &fused.scale, sizeof scaleBits);
    key.push_back(scaleBits);
    for (const auto* t : {&a, &b, &biasRow, &out, &fused.multiply, &fused.add})
        appendLayout(key, *t);
    const auto& engine = cpuEngine();
    dnnl::primitive primitive = cache().get(std::move(key), [&] {
        dnnl::primitive_attr attributes;
        if (fused.scale != 1.0f) attributes.set_output_scales(0, {fused.scale});
        dnnl::post_ops steps;
        if (fused.activation == Activation::Gelu)
            steps.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
        if (fused.activation == Activation::Silu)  // swish with beta 1 is SiLU
            steps.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
        if (fused.multiply.defined())
            steps.append_binary(dnnl::algorithm::binary_mul, describe(fused.multiply));
        if (fused.add.defined())
            steps.append_binary(dnnl::algorithm::binary_add, describe(fused.add));
        attributes.set_post_ops(steps);
        return dnnl::matmul(dnnl::matmul::primitive_desc(
            dnnl::matmul::desc(describe(a), describe(b),
                               biasRow.defined() ? describe(biasRow) : dnnl::memory::desc(),
                               describe(out)),
            attributes, engine));
    });
    std::unordered_map<int, dnnl::memory> arguments{{DNNL_ARG_SRC, wrap(a, engine)},
                                                    {DNNL_ARG_WEIGHTS, wrap(b, engine)},
                                                    {DNNL_ARG_DST, wrap(out, engine)}};
    if (biasRow.defined()) arguments.emplace(DNNL_ARG_BIAS, wrap(biasRow, engine));
    // A binary step's operand is an argument of its place in the chain.
    int step = fused.activation == Activation::None ? 0 : 1;
    for (const auto* operand : {&fused.multiply, &fused.add}) {
        if (!operand->defined()) continue;
        arguments.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(step) | DNNL_ARG_SRC_1,
                          wrap(*operand, engine));
        ++step;
    }
    execute(primitive, arguments);
}

// The same into a new contiguous result.
torch::Tensor product(torch::Tensor a, torch::Tensor b, const torch::Tensor& bias,
                      const Fused& fused = {}) {
    a = unitStrided(a);
    b = unitStrided(b);
    std::vector<int64_t> outSizes = a.sizes().vec();
    outSizes.back() = b.size(-1);
    auto out = torch::empty(outSizes, a.options());
    torch::Tensor biasRow;  // (1, n) or (1, 1, n): oneDNN's bias has the output's rank
    if (bias.defined()) {
        std::vector<int64_t> ones(outSizes.size(), 1);
        ones.back() = outSizes.back();
        biasRow = bias.contiguous().view(ones);
    }
    productInto(a, b, biasRow, out, fused);
    return out;
}

// softmax over the last axis, in place.
void softmaxInPlace(const torch::Tensor& t) {
    std::vector<int64_t> key{kSoftmax};
    appendLayout(key, t);
    const auto& engine = cpuEngine();
    dnnl::primitive primitive = cache().get(std::move(key), [&] {
        return dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(
            dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, describe(t),
                                        int(t.dim() - 1)),
            engine));
    });
    const dnnl::memory memory = wrap(t, engine);
    execute(primitive, {{DNNL_ARG_SRC, memory}, {DNNL_ARG_DST, memory}});
}

// The rows of x as a matrix (rows, in); a view where the layout allows.
torch::Tensor asRows(const torch::Tensor& x) {
    return x.reshape({-1, x.size(-1)});
}

// A (..., m, k) tensor as one batch of matrices (batch, m, k).
torch::Tensor asBatch(const torch::Tensor& t) {
    return t.reshape({-1, t.size(-2), t.size(-1)});
}

// `result` (rows or a batch of matrices) in the leading shape of `like`,
// with `last` columns.
torch::Tensor shapedLike(const torch::Tensor& result, const torch::Tensor& like, int64_t last) {
    auto sizes = like.sizes().vec();
    sizes.back() = last;
    return result.view(sizes);
}

// Autograd records every input of a custom function, and an undefined
// tensor cannot be one: no bias comes in as an empty tensor.
struct OneDnnLinear : torch::autograd::Function<OneDnnLinear> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& weight, const torch::Tensor& biasOrEmpty) {
        ctx->save_for_backward({x, weight});
        const bool bias = biasOrEmpty.numel() > 0;
        ctx->saved_data["bias"] = bias;
        return shapedLike(product(asRows(x), weight.t(), bias ? biasOrEmpty : torch::Tensor()), x,
                          weight.size(0));
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor& x = saved[0];
        const torch::Tensor& weight = saved[1];
        const torch::Tensor gradRows = unitStrided(asRows(grads[0]));
        torch::Tensor gradX, gradWeight, gradBias;
        if (ctx->needs_input_grad(0))
            gradX = shapedLike(product(gradRows, weight, {}), x, x.size(-1));
        if (ctx->needs_input_grad(1)) gradWeight = product(gradRows.t(), asRows(x), {});
        if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2))
            gradBias = gradRows.sum(0);
        return {gradX, gradWeight, gradBias};
    }
};

struct OneDnnMatmul : torch::autograd::Function<OneDnnMatmul> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a,
                                 const torch::Tensor& b) {
        ctx->save_for_backward({a, b});
        return shapedLike(product(asBatch(a), asBatch(b), {}), a, b.size(-1));
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor& a = saved[0];
        const torch::Tensor& b = saved[1];
        const torch::Tensor grad = unitStrided(asBatch(grads[0]));
        torch::Tensor gradA, gradB;
        if (ctx->needs_input_grad(0))
            gradA = shapedLike(product(grad, asBatch(b).transpose(1, 2), {}), a, a.size(-1));
        if (ctx->needs_input_grad(1))
            gradB = shapedLike(product(asBatch(a).transpose(1, 2), grad, {}), b, b.size(-1));
        return {gradA, gradB};
    }
};

bool isCpuFloat(const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 &&
           t.layout() == torch::kStrided;
}

bool tracked(std::initializer_list<torch::Tensor> inputs) {
    if (!torch::GradMode::is_enabled()) return false;
    for (const auto& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

// Whether oneDNN can take `after` in the product's pass for a result of `sizes`.
bool fusable(const DenseEpilogue& after, at::IntArrayRef sizes) {
    for (const auto* t : {&after.multiply, &after.add})
        if (t->defined() && (!isCpuFloat(*t) || t->sizes() != sizes)) return false;
    return true;
}

// An epilogue's operand as rows of the result, read in place when contiguous.
torch::Tensor operandRows(const torch::Tensor& t) {
    return t.defined() ? asRows(t.contiguous()) : t;
}

// Scores per chunk: about this many bytes, at least one head.
constexpr int64_t kAttentionChunkBytes = int64_t(1) << 20;

int64_t headsPerChunk(int64_t heads, int64_t Tq, int64_t T) {
    return std::max<int64_t>(1, std::min<int64_t>(heads, kAttentionChunkBytes / (Tq * T * 4)));
}

// Scaled scores of q's heads [h, h + n) of case b against k's, softmax over
// the keys, into `weights` (n, Tq, T).
void attentionWeightsInto(const torch::Tensor& q, const torch::Tensor& k, int64_t b, int64_t h,
                          int64_t n, const torch::Tensor& weights) {
    Fused scaled;
    scaled.scale = float(1.0 / std::sqrt(double(q.size(3))));
    productInto(unitStrided(q[b].narrow(0, h, n)),
                unitStrided(k[b].narrow(0, h, n).transpose(-2, -1)), {}, weights, scaled);
    softmaxInPlace(weights);
}

// softmax(q k^T / sqrt(d)) v, a chunk of heads at a time. Computed at once,
// the scores of a batch are a (B, H, Tq, T) tensor (135 MB for the 8 heads of
// an LLM block over 513 tokens, batch 16) that is written, read back by the
// softmax and again by the second product, all from memory. A chunk of heads
// whose scores fit in the cache is done start to finish instead, its second
// product written straight into the merged (B, Tq, H dv) layout.
torch::Tensor fusedAttention(const torch::Tensor& q, const torch::Tensor& k,
                             const torch::Tensor& v) {
    const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), T = k.size(2), dv = v.size(3);
    const int64_t chunk = headsPerChunk(H, Tq, T);
    auto merged = torch::empty({B, Tq, H, dv}, q.options());
    auto buffer = torch::empty({chunk, Tq, T}, q.options());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; h += chunk) {
            const int64_t n = std::min(chunk, H - h);
            auto weights = buffer.narrow(0, 0, n);
            attentionWeightsInto(q, k, b, h, n, weights);
            productInto(weights, unitStrided(v[b].narrow(0, h, n)), {},
                        merged[b].narrow(1, h, n).transpose(0, 1), {});
        }
    return merged.view({B, Tq, H * dv});
}

// The same while gradients are recorded. The backward pass computes each
// chunk's weights again from q and k (flash attention's trade of arithmetic
// for memory traffic), so no scores are kept between the passes; the weights
// recomputed are the forward's to the bit (the same primitives on the same
// inputs and layouts).
struct ChunkedAttention : torch::autograd::Function<ChunkedAttention> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q,
                                 const torch::Tensor& k, const torch::Tensor& v) {
        auto out = fusedAttention(q, k, v);
        ctx->save_for_backward({q, k, v, out});
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2];
        const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), d = q.size(3), T = k.size(2),
                      dv = v.size(3);
        // (B, Tq, H, dv) as (B, H, Tq, dv) views, heads apart.
        const auto gradOut = grads[0].contiguous().view({B, Tq, H, dv}).transpose(1, 2);
        const auto out = saved[3].view({B, Tq, H, dv}).transpose(1, 2);
        // Each row's sum of dO * O: the softmax's backward needs it per row.
        const auto rowDot = (gradOut * out).sum(-1, true);  // (B, H, Tq, 1)
        auto gradQ = torch::empty({B, H, Tq, d}, q.options());
        auto gradK = torch::empty({B, H, T, d}, q.options());
        auto gradV = torch::empty({B, H, T, dv}, q.options());
        const int64_t chunk = headsPerChunk(H, Tq, T);
        auto weightsBuffer = torch::empty({chunk, Tq, T}, q.options());
        auto gradBuffer = torch::empty({chunk, Tq, T}, q.options());
        Fused scaled;
        scaled.scale = float(1.0 / std::sqrt(double(d)));
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; h += chunk) {
                const int64_t n = std::min(chunk, H - h);
                auto weights = weightsBuffer.narrow(0, 0, n);
                auto gradScores = gradBuffer.narrow(0, 0, n);
                attentionWeightsInto(q, k, b, h, n, weights);
                const auto dO = unitStrided(gradOut[b].narrow(0, h, n));
                // dV = P^T dO; dP = dO V^T; dS = P (dP - rowDot), in place.
                productInto(weights.transpose(1, 2), dO, {}, gradV[b].narrow(0, h, n), {});
                productInto(dO, unitStrided(v[b].narrow(0, h, n).transpose(-2, -1)), {}, gradScores,
                            {});
                gradScores.sub_(rowDot[b].narrow(0, h, n)).mul_(weights);
                // dQ = dS K / sqrt(d); dK = dS^T Q / sqrt(d).
                productInto(gradScores, unitStrided(k[b].narrow(0, h, n)), {},
                            gradQ[b].narrow(0, h, n), scaled);
                productInto(gradScores.transpose(1, 2), unitStrided(q[b].narrow(0, h, n)), {},
                            gradK[b].narrow(0, h, n), scaled);
            }
        return {gradQ, gradK, gradV};
    }
};

// q (B, H, Tq, d), k (B, H, T, d), v (B, H, T, dv): what fusedAttention
// reads. Anything else takes LibTorch's operators (and their errors).
bool attentionShapes(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
    return q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.numel() > 0 && k.numel() > 0 &&
           v.numel() > 0 && k.size(0) == q.size(0) && v.size(0) == q.size(0) &&
           k.size(1) == q.size(1) && v.size(1) == q.size(1) && k.size(3) == q.size(3) &&
           v.size(2) == k.size(2);
}

}  // namespace
#endif

torch::Tensor denseLinear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, const DenseEpilogue& after) {
#ifdef RLLM_HAVE_ONEDNN
    if (cpuGemm() == CpuGemm::OneDnn && x.dim() >= 2 && x.numel() > 0 && isCpuFloat(x) &&
        isCpuFloat(weight) && weight.dim() == 2 && (!bias.defined() || isCpuFloat(bias))) {
        if (tracked({x, weight, bias, after.multiply, after.add}))
            return after.applyTo(OneDnnLinear::apply(
                x, weight, bias.defined() ? bias : torch::empty({0}, x.options())));
        auto sizes = x.sizes().vec();
        sizes.back() = weight.size(0);
        if (!fusable(after, sizes))
            return after.applyTo(shapedLike(product(asRows(x), weight.t(), bias), x, sizes.back()));
        Fused fused;
        fused.activation = after.activation;
        fused.multiply = operandRows(after.multiply);
        fused.add = operandRows(after.add);
        return shapedLike(product(asRows(x), weight.t(), bias, fused), x, sizes.back());
    }
#endif
    return after.applyTo(torch::nn::functional::linear(x, weight, bias));
}

torch::Tensor batchedMatmul(const torch::Tensor& a, const torch::Tensor& b) {
#ifdef RLLM_HAVE_ONEDNN
    if (cpuGemm() == CpuGemm::OneDnn && a.dim() >= 3 && a.dim() == b.dim() && a.numel() > 0 &&
        b.numel() > 0 && isCpuFloat(a) && isCpuFloat(b) &&
        a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2) &&
        a.size(-1) == b.size(-2)) {
        if (tracked({a, b})) return OneDnnMatmul::apply(a, b);
        return shapedLike(product(asBatch(a), asBatch(b), {}), a, b.size(-1));
    }
#endif
    return torch::matmul(a, b);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#ifdef RLLM_HAVE_ONEDNN
    if (cpuGemm() == CpuGemm::OneDnn && attentionShapes(q, k, v) && isCpuFloat(q) &&
        isCpuFloat(k) && isCpuFloat(v))
        return tracked({q, k, v}) ? ChunkedAttention::apply(q, k, v) : fusedAttention(q, k, v);
#endif
    return attentionStepByStep(q, k, v);
}

}  // namespace rllm
