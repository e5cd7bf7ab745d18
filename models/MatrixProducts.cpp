#include "MatrixProducts.h"

#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#ifdef RLLM_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#include <map>
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

#ifdef RLLM_HAVE_ONEDNN
namespace {

// A float32 matrix, or a batch of them, as oneDNN sees it: its sizes and
// strides, so a transposed view is read in place rather than copied.
dnnl::memory::desc describe(const torch::Tensor& t) {
    return dnnl::memory::desc(t.sizes().vec(), dnnl::memory::data_type::f32, t.strides().vec());
}

// oneDNN's kernels read each matrix along rows or along columns.
torch::Tensor unitStrided(const torch::Tensor& m) {
    return (m.stride(-1) == 1 || m.stride(-2) == 1) ? m : m.contiguous();
}

const dnnl::engine& cpuEngine() {
    static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
    return cpu;
}

// One matmul primitive per shape, layout and thread count, created once: a
// primitive's creation (JIT code generation) costs far more than running it
// at these sizes. oneDNN's OpenMP team is LibTorch's pool (setCpuThreads
// sizes it), and a primitive may be tuned to its size. One cache per
// thread: with oneDNN's default (shared) scratchpad a primitive must run in
// the thread that created it, and the viewer runs models on worker threads.
class MatmulCache {
  public:
    // `bias` may be undefined; the others are the operands as product()
    // passes them, whose sizes and strides describe the primitive.
    dnnl::matmul get(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias,
                     const torch::Tensor& out) {
        std::vector<int64_t> key = a.sizes().vec();
        for (const auto& part : {a.strides(), b.sizes(), b.strides()})
            key.insert(key.end(), part.begin(), part.end());
        key.push_back(bias.defined());
        key.push_back(omp_get_max_threads());
        auto found = primitives_.find(key);
        if (found != primitives_.end()) return found->second;
        dnnl::matmul primitive(dnnl::matmul::primitive_desc(
            dnnl::matmul::desc(describe(a), describe(b),
                               bias.defined() ? describe(bias) : dnnl::memory::desc(),
                               describe(out)),
            cpuEngine()));
        primitives_.emplace(std::move(key), primitive);
        return primitive;
    }

  private:
    std::map<std::vector<int64_t>, dnnl::matmul> primitives_;
};

MatmulCache& cache() {
    thread_local MatmulCache instance;
    return instance;
}

// a (m, k) or (batch, m, k) times b (k, n) or (batch, k, n), plus bias (n)
// if defined: a new contiguous (m, n) or (batch, m, n).
torch::Tensor product(torch::Tensor a, torch::Tensor b, const torch::Tensor& bias) {
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
    dnnl::matmul primitive = cache().get(a, b, biasRow, out);
    const auto& engine = cpuEngine();
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, dnnl::memory(describe(a), engine, a.data_ptr<float>())},
        {DNNL_ARG_WEIGHTS, dnnl::memory(describe(b), engine, b.data_ptr<float>())},
        {DNNL_ARG_DST, dnnl::memory(describe(out), engine, out.data_ptr<float>())}};
    if (biasRow.defined())
        args.emplace(DNNL_ARG_BIAS,
                     dnnl::memory(describe(biasRow), engine, biasRow.data_ptr<float>()));
    dnnl::stream stream(engine);
    primitive.execute(stream, args);
    stream.wait();
    return out;
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

}  // namespace
#endif

torch::Tensor denseLinear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias) {
#ifdef RLLM_HAVE_ONEDNN
    if (cpuGemm() == CpuGemm::OneDnn && x.dim() >= 2 && x.numel() > 0 && isCpuFloat(x) &&
        isCpuFloat(weight) && weight.dim() == 2 && (!bias.defined() || isCpuFloat(bias))) {
        if (tracked({x, weight, bias}))
            return OneDnnLinear::apply(x, weight,
                                       bias.defined() ? bias : torch::empty({0}, x.options()));
        return shapedLike(product(asRows(x), weight.t(), bias), x, weight.size(0));
    }
#endif
    return torch::nn::functional::linear(x, weight, bias);
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

}  // namespace rllm
