#include "models/Networks.h"

#include "core/Error.h"
#include "models/MatrixProducts.h"

#include <cmath>
#include <limits>

namespace rllm {

int VitConfig::patchCount() const {
    const int side = gridSide();
    return volumetric ? side * side * side : side * side;
}

int64_t VitConfig::patchVectorLength() const {
    const int64_t voxels = volumetric ? int64_t(patch) * patch * patch : int64_t(patch) * patch;
    const int64_t copies = shiftedPatches ? 1 + (volumetric ? 8 : 4) : 1;
    return copies * channels * voxels;
}

torch::Tensor patchVectors(const torch::Tensor& images, int patch, bool volumetric, bool shifted) {
    const int spatialAxes = volumetric ? 3 : 2;
    torch::Tensor x = images;
    if (shifted) {
        // Every copy is a window of the image padded by s zeros on each side:
        // moved by +s along an axis it starts at 0, by -s at 2s.
        const int64_t s = patch / 2;
        const auto padded =
            torch::constant_pad_nd(images, std::vector<int64_t>(2 * spatialAxes, s), 0);
        std::vector<torch::Tensor> copies{images};
        for (int corner = 0; corner < (1 << spatialAxes); ++corner) {
            torch::Tensor window = padded;
            for (int axis = 0; axis < spatialAxes; ++axis) {
                const bool positive = (corner >> (spatialAxes - 1 - axis)) & 1;
                window = window.narrow(2 + axis, positive ? 0 : 2 * s, images.size(2 + axis));
            }
            copies.push_back(window);
        }
        x = torch::cat(copies, 1);
    }
    const int64_t B = x.size(0), C = x.size(1), p = patch, g = x.size(2) / patch;
    if (volumetric)  // (B, C, D, H, W) -> (B, g^3, p^3 C)
        return x.reshape({B, C, g, p, g, p, g, p})
            .permute({0, 2, 4, 6, 3, 5, 7, 1})
            .reshape({B, g * g * g, p * p * p * C});
    return x.reshape({B, C, g, p, g, p}).permute({0, 2, 4, 3, 5, 1}).reshape({B, g * g, p * p * C});
}

namespace {
// "WIDTHxHEADS" (e.g. "128x4"): a width and head count of the researcher's
// choosing, 12 blocks like the named presets. Returns false for any other text.
bool parseCustomShape(const std::string& name, int& dim, int& heads) {
    const auto x = name.find('x');
    if (x == std::string::npos || x == 0 || x + 1 == name.size()) return false;
    const auto digitsOnly = [](const std::string& s) {
        return s.size() <= 5 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    const std::string w = name.substr(0, x), h = name.substr(x + 1);
    if (!digitsOnly(w) || !digitsOnly(h)) return false;
    dim = std::stoi(w), heads = std::stoi(h);
    return true;
}
}  // namespace

VitConfig VitConfig::preset(const std::string& name) {
    VitConfig c;
    if (name == "tiny") {
        c.dim = 192, c.depth = 12, c.heads = 3;
    } else if (name == "small") {
        c.dim = 384, c.depth = 12, c.heads = 6;
    } else if (name == "base") {
        c.dim = 768, c.depth = 12, c.heads = 12;
    } else if (parseCustomShape(name, c.dim, c.heads)) {
        // Each head takes an equal slice of the width; an odd head width
        // would leave the attention's reshape nothing to split evenly.
        if (c.heads < 1 || c.dim < 1 || c.dim % c.heads != 0 || c.dim > 4096)
            throw Error(
                "ViT shape '" + name +
                "': the width must be a multiple of the head count (one head at least) and at "
                "most 4096, e.g. 128x4");
    } else {
        throw Error("unknown ViT preset '" + name +
                    "': use tiny, small, base or WIDTHxHEADS (e.g. 128x4)");
    }
    return c;
}

namespace {
// A torch::nn::Linear's forward, its product through denseLinear (oneDNN on the CPU).
torch::Tensor dense(const torch::nn::Linear& layer, const torch::Tensor& x) {
    return denseLinear(x, layer->weight, layer->bias);
}

// The plain forwards are the tapped ones with a tap that only passes the tokens on.
const TokenTap kPassThrough = [](const std::string&, const torch::Tensor& t) { return t; };

}  // namespace

// ---- ViT -------------------------------------------------------------------

VitBlockImpl::VitBlockImpl(int dim, int heads, int mlpRatio, bool localityAttention)
    : heads(heads) {
    norm1 = register_module("norm1",
                            torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    qkv = register_module("qkv",
                          torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(true)));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    norm2 = register_module("norm2",
                            torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    fc1 = register_module("fc1", torch::nn::Linear(dim, dim * mlpRatio));
    fc2 = register_module("fc2", torch::nn::Linear(dim * mlpRatio, dim));
    if (localityAttention)  // the usual 1 / sqrt(head width) to start from
        attnLogScale = register_parameter("attn_log_scale",
                                          torch::full({1}, -0.5 * std::log(double(dim / heads))));
}

torch::Tensor VitBlockImpl::attention(const torch::Tensor& x, const TokenTap* tap,
                                      const std::string& name, bool classRowOnly) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2), hd = C / heads;
    torch::Tensor q, k, v;
    if (classRowOnly) {
        // The query of the class token alone; keys and values of every token.
        const int64_t Q = 1;
        q = denseLinear(x.narrow(1, 0, 1), qkv->weight.narrow(0, 0, C), qkv->bias.narrow(0, 0, C))
                .reshape({B, Q, heads, hd})
                .transpose(1, 2);
        auto kv = denseLinear(x, qkv->weight.narrow(0, C, 2 * C), qkv->bias.narrow(0, C, 2 * C))
                      .reshape({B, T, 2, heads, hd})
                      .permute({2, 0, 3, 1, 4});
        k = kv[0], v = kv[1];
    } else {
        auto parts = dense(qkv, x).reshape({B, T, 3, heads, hd}).permute({2, 0, 3, 1, 4});
        q = parts[0], k = parts[1], v = parts[2];
    }
    const bool tapped = tap && tap != &kPassThrough;
    torch::Tensor mixed;  // (B, rows, C), the heads side by side
    if (!tapped && !attnLogScale.defined()) {
        mixed = rllm::attention(q, k, v);  // nobody looks at the weights: fused where it can be
    } else {
        auto scores = batchedMatmul(q, k.transpose(-2, -1));
        if (attnLogScale.defined()) {
            // Locality self-attention: the learnt scale, and no token attends
            // to itself (query row i is token i; the class row alone is row 0).
            const auto self =
                torch::eye(T, x.options().dtype(torch::kBool)).narrow(0, 0, q.size(2));
            scores = (scores * attnLogScale.exp())
                         .masked_fill(self, -std::numeric_limits<double>::infinity());
        } else {
            scores = scores / std::sqrt(double(hd));
        }
        auto weights = torch::softmax(scores, -1);
        if (tapped) weights = (*tap)(name + ":attn", weights);
        mixed = batchedMatmul(weights, v).transpose(1, 2).reshape({B, q.size(2), C});
    }
    return mixed;
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x, bool classRowOnly) {
    return forward(x, kPassThrough, {}, classRowOnly);
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x, const TokenTap& tap,
                                    const std::string& name, bool classRowOnly,
                                    const torch::Tensor& branchScales) {
    auto rows = classRowOnly ? x.narrow(1, 0, 1) : x;
    auto heads = attention(tap(name + ":norm1", norm1(x)), &tap, name, classRowOnly);
    // Each branch joins the stream in its product's epilogue (one pass in
    // inference); a case's branch scale, where given, multiplies it first.
    auto branch = [&](int64_t which, const torch::Tensor& stream) {
        DenseEpilogue join;
        if (branchScales.defined()) join.multiply = branchScales.select(1, which).view({-1, 1, 1});
        join.add = stream;
        return join;
    };
    auto h = denseLinear(heads, proj->weight, proj->bias, branch(0, rows));
    DenseEpilogue gelu;
    gelu.activation = DenseEpilogue::Activation::Gelu;
    auto hidden = denseLinear(norm2(h), fc1->weight, fc1->bias, gelu);
    return tap(name, denseLinear(hidden, fc2->weight, fc2->bias, branch(1, h)));
}

VitImpl::VitImpl(const VitConfig& c) : config(c) {
    if (c.imageSize % c.patch != 0)
        throw Error("the input size " + std::to_string(c.imageSize) +
                    " is not a multiple of the patch size " + std::to_string(c.patch));
    if (c.dim % c.heads != 0) throw Error("the ViT width must be a multiple of its head count");
    if (c.convStem && c.linearPatchEmbedding())
        throw Error(
            "a convolutional stem replaces the 2D patch convolution; it does not combine "
            "with 3D models or shifted patches");
    if (c.linearPatchEmbedding()) {
        const int64_t patchVector = c.patchVectorLength();
        if (c.patchNorm)
            patchNormIn = register_module(
                "patch_norm_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({patchVector})));
        patchLinear = register_module("patch_linear", torch::nn::Linear(patchVector, c.dim));
        patchNormOut = register_module("patch_norm_out",
                                       torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim})));
    } else if (c.convStem) {
        // Each stride-2 convolution halves the side, so the stem reaches the
        // patch grid after log2(patch) of them; the channels double on the way
        // up to half the width, and the 1x1 convolution gives the width.
        int halvings = 0;
        while ((1 << halvings) < c.patch) ++halvings;
        if (c.patch < 2 || (1 << halvings) != c.patch || c.dim % c.patch != 0)
            throw Error(
                "a convolutional stem needs a patch size that is a power of two (at least "
                "2; here " +
                std::to_string(c.patch) + ") and a width that it divides (here " +
                std::to_string(c.dim) + ")");
        patchStem = register_module("patch_stem", torch::nn::ModuleList());
        int64_t in = c.channels;
        for (int i = 0; i < halvings; ++i) {
            const int64_t out = c.dim >> (halvings - i);
            patchStem->push_back(
                torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
            in = out;
        }
        patchStem->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, c.dim, 1)));
    } else {
        patchConv = register_module(
            "patch_conv",
            torch::nn::Conv2d(
                torch::nn::Conv2dOptions(c.channels, c.dim, c.patch).stride(c.patch)));
    }
    classToken = register_parameter("cls_token", torch::zeros({1, 1, c.dim}));
    positionEmbedding =
        register_parameter("pos_embed", torch::zeros({1, c.patchCount() + 1, c.dim}));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < c.depth; ++i)
        blocks->push_back(VitBlock(c.dim, c.heads, c.mlpRatio, c.localityAttention));
    norm = register_module("norm",
                           torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(1e-6)));
    head = register_module("head", torch::nn::Linear(c.dim, c.classes));
}

torch::Tensor VitImpl::embed(const torch::Tensor& images, const torch::Tensor& maskedPatches,
                             const torch::Tensor& maskToken) {
    const int64_t B = images.size(0);
    torch::Tensor tokens;
    if (config.linearPatchEmbedding()) {
        torch::Tensor vectors =
            patchVectors(images, config.patch, config.volumetric, config.shiftedPatches);
        if (patchNormIn) vectors = patchNormIn(vectors);
        tokens = patchNormOut(dense(patchLinear, vectors));
    } else if (patchStem) {
        torch::Tensor x = images;
        const size_t last = patchStem->size() - 1;
        for (size_t i = 0; i < last; ++i)
            x = torch::relu(patchStem[i]->as<torch::nn::Conv2d>()->forward(x));
        tokens = patchStem[last]->as<torch::nn::Conv2d>()->forward(x).flatten(2).transpose(1, 2);
    } else {
        tokens = patchConv(images).flatten(2).transpose(1, 2);
    }
    if (maskedPatches.defined())
        tokens = torch::where(maskedPatches.to(tokens.device()).unsqueeze(-1),
                              maskToken.expand_as(tokens), tokens);
    tokens = torch::cat({classToken.expand({B, 1, config.dim}), tokens}, 1);
    return tokens + positionEmbedding;
}

// ---- LLaMA -----------------------------------------------------------------

RmsNormImpl::RmsNormImpl(int dim, double eps) : eps(eps) {
    weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
    return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * weight;
}

LlamaLayerImpl::LlamaLayerImpl(const LlmArchitecture& a) : arch(a) {
    const int64_t d = a.dim, kv = d / a.heads * a.kvHeads;
    attentionNorm = register_module("attention_norm", RmsNorm(a.dim, a.eps));
    wq = register_module("wq", torch::nn::Linear(torch::nn::LinearOptions(d, d).bias(a.qkvBias)));
    wk = register_module("wk", torch::nn::Linear(torch::nn::LinearOptions(d, kv).bias(a.qkvBias)));
    wv = register_module("wv", torch::nn::Linear(torch::nn::LinearOptions(d, kv).bias(a.qkvBias)));
    wo = register_module("wo", torch::nn::Linear(torch::nn::LinearOptions(d, d).bias(false)));
    ffnNorm = register_module("ffn_norm", RmsNorm(a.dim, a.eps));
    w1 = register_module("w1", torch::nn::Linear(torch::nn::LinearOptions(d, a.ffn).bias(false)));
    w2 = register_module("w2", torch::nn::Linear(torch::nn::LinearOptions(a.ffn, d).bias(false)));
    w3 = register_module("w3", torch::nn::Linear(torch::nn::LinearOptions(d, a.ffn).bias(false)));
}

void LlamaLayerImpl::setComputeType(torch::ScalarType type) {
    computeType_ = type;
    lowered_.clear();
    if (type == torch::kFloat32) return;
    torch::NoGradGuard noGrad;
    for (const torch::nn::Linear* layer : {&wq, &wk, &wv, &wo, &w1, &w2, &w3}) {
        const torch::nn::Linear& l = *layer;
        lowered_[l.get()] = {l->weight.detach().to(type),
                             l->bias.defined() ? l->bias.detach().to(type) : torch::Tensor()};
    }
}

torch::Tensor LlamaLayerImpl::linear(const torch::nn::Linear& layer, const torch::Tensor& x,
                                     const DenseEpilogue& after) const {
    if (computeType_ == torch::kFloat32)  // the layer's own weights
        return denseLinear(x, layer->weight, layer->bias, after);
    // Lowered products; a float32 addend promotes the sum to float32.
    const auto& [weight, bias] = lowered_.at(layer.get());
    return after.applyTo(denseLinear(x, weight, bias));
}

torch::Tensor LlamaLayerImpl::forward(const torch::Tensor& z, bool classRowOnly) {
    const int64_t B = z.size(0), T = z.size(1), Q = classRowOnly ? 1 : T, H = arch.heads,
                  KV = arch.kvHeads, hd = arch.dim / H;
    // The norms and residual additions in the stream's type (float32); the
    // products in the compute type (the same unless setComputeType changed it).
    // float32 means "the stream's own type" (the tests also run in float64).
    const auto stream = z.scalar_type();
    const auto compute = computeType_ == torch::kFloat32 ? stream : computeType_;
    auto n = attentionNorm(z).to(compute);
    auto rows = classRowOnly ? z.narrow(1, 0, 1) : z;
    auto q = linear(wq, classRowOnly ? n.narrow(1, 0, 1) : n).view({B, Q, H, hd}).transpose(1, 2);
    auto k = linear(wk, n).view({B, T, KV, hd}).transpose(1, 2);
    auto v = linear(wv, n).view({B, T, KV, hd}).transpose(1, 2);
    if (KV != H) {  // grouped-query attention: query head h reads kv head h / (H / KV)
        k = k.repeat_interleave(H / KV, 1);
        v = v.repeat_interleave(H / KV, 1);
    }
    // No causal mask and no rotary embedding: visual tokens are not a text sequence.
    // Each branch joins the stream in its product's epilogue.
    DenseEpilogue join;
    join.add = rows;
    auto h = linear(wo, attention(q, k, v), join);
    auto m = ffnNorm(h).to(compute);
    DenseEpilogue silu, gate;
    silu.activation = DenseEpilogue::Activation::Silu;
    gate.multiply = linear(w1, m, silu);  // SwiGLU: silu(w1 m) * (w3 m)
    join.add = h;
    return linear(w2, linear(w3, m, gate), join);
}

namespace {

void copyInto(torch::Tensor& target, const std::vector<float>& values, const std::string& what) {
    if (static_cast<int64_t>(values.size()) != target.numel())
        throw Error("LLM weight '" + what + "' has " + std::to_string(values.size()) +
                    " values, expected " + std::to_string(target.numel()));
    torch::NoGradGuard noGrad;
    target.copy_(
        torch::from_blob(const_cast<float*>(values.data()), target.sizes(), torch::kFloat32));
}

}  // namespace

void LlamaLayerImpl::load(const LlamaLayerWeights& w) {
    copyInto(attentionNorm->weight, w.attentionNorm, "attention_norm");
    copyInto(wq->weight, w.wq, "wq");
    copyInto(wk->weight, w.wk, "wk");
    copyInto(wv->weight, w.wv, "wv");
    copyInto(wo->weight, w.wo, "wo");
    if (arch.qkvBias) {
        copyInto(wq->bias, w.bq, "bq");
        copyInto(wk->bias, w.bk, "bk");
        copyInto(wv->bias, w.bv, "bv");
    }
    copyInto(ffnNorm->weight, w.ffnNorm, "ffn_norm");
    copyInto(w1->weight, w.w1, "w1");
    copyInto(w2->weight, w.w2, "w2");
    copyInto(w3->weight, w.w3, "w3");
}

FinalNorm parseFinalNorm(const std::string& name) {
    if (name == "unit") return FinalNorm::Unit;
    if (name == "loaded") return FinalNorm::Loaded;
    if (name == "none") return FinalNorm::None;
    throw Error("unknown final norm '" + name + "': use unit, loaded or none");
}

std::string finalNormName(FinalNorm mode) {
    return mode == FinalNorm::Unit ? "unit" : mode == FinalNorm::Loaded ? "loaded" : "none";
}

LlmBlockImpl::LlmBlockImpl(const LlmArchitecture& a, int layerCount, FinalNorm m)
    : arch(a), mode(m) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int i = 0; i < layerCount; ++i) layers->push_back(LlamaLayer(a));
    finalNorm = register_module("norm", RmsNorm(a.dim, a.eps));
}

torch::Tensor LlmBlockImpl::forward(const torch::Tensor& z, bool classRowOnly) {
    torch::Tensor h = z;
    for (size_t i = 0; i < layers->size(); ++i)
        h = layers[i]->as<LlamaLayer>()->forward(h, classRowOnly && i + 1 == layers->size());
    // Unit mode: the norm's weight stays at one (never loaded).
    return mode == FinalNorm::None ? h : finalNorm(h);
}

void LlmBlockImpl::load(const LlmWeights& weights) {
    if (weights.layers.size() != layers->size())
        throw Error("LLM block: layer count does not match the weights");
    for (size_t i = 0; i < weights.layers.size(); ++i)
        layers[i]->as<LlamaLayer>()->load(weights.layers[i]);
    if (mode == FinalNorm::Loaded) copyInto(finalNorm->weight, weights.finalNorm, "final norm");
}

void LlmBlockImpl::randomize(uint64_t seed) {
    torch::NoGradGuard noGrad;
    auto generator = at::detail::createCPUGenerator(seed);
    for (auto& p : named_parameters()) {
        if (p.key().find("norm") != std::string::npos)
            p.value().fill_(1.0);
        else  // in place: a temporary copy of a 7B-sized FFN matrix would add 180 MB to the peak
            p.value().normal_(0.0, 0.02, generator);
    }
}

void LlmBlockImpl::setComputeType(torch::ScalarType type) {
    computeType_ = type;
    for (size_t i = 0; i < layers->size(); ++i) layers[i]->as<LlamaLayer>()->setComputeType(type);
}

void LlmBlockImpl::freeze() {
    for (auto& p : parameters()) p.set_requires_grad(false);
}

// ---- Booster and classifier -------------------------------------------------

ResidualMode parseResidualMode(const std::string& name) {
    if (name == "in") return ResidualMode::In;
    if (name == "out") return ResidualMode::Out;
    if (name == "hybrid") return ResidualMode::Hybrid;
    if (name == "none") return ResidualMode::None;
    if (name == "mlp") return ResidualMode::Mlp;
    throw Error("unknown booster mode '" + name + "': use in, out, hybrid, none or mlp");
}

std::string residualModeName(ResidualMode mode) {
    switch (mode) {
        case ResidualMode::In:
            return "in";
        case ResidualMode::Out:
            return "out";
        case ResidualMode::Hybrid:
            return "hybrid";
        case ResidualMode::None:
            return "none";
        case ResidualMode::Mlp:
            return "mlp";
    }
    return "?";
}

BoosterImpl::BoosterImpl(int dim, int llmDim, ResidualMode m, LlmBlock block) : mode(m) {
    encoder = register_module("encoder",
                              torch::nn::Linear(torch::nn::LinearOptions(dim, llmDim).bias(false)));
    decoder = register_module("decoder",
                              torch::nn::Linear(torch::nn::LinearOptions(llmDim, dim).bias(false)));
    if (mode != ResidualMode::Mlp) {
        if (!block)
            throw Error("the booster needs an LLM block for residual mode " +
                        residualModeName(mode));
        llm = register_module("llm", block);
        llm->freeze();
    }
}

torch::Tensor BoosterImpl::forward(const torch::Tensor& x, bool classRowOnly) {
    return forward(x, kPassThrough, classRowOnly);
}

torch::Tensor BoosterImpl::forward(const torch::Tensor& x, const TokenTap& tap, bool classRowOnly) {
    if (mode == ResidualMode::Mlp) {  // the adapters alone, no LLM: token by token
        auto rows = classRowOnly ? x.narrow(1, 0, 1) : x;
        return dense(decoder, dense(encoder, rows)) + rows;
    }
    auto z = dense(encoder, x);  // every token: the LLM's keys and values read them all
    auto l = tap("booster:llm", llm->forward(z, classRowOnly));
    if (classRowOnly) {
        z = z.narrow(1, 0, 1);
        auto rows = x.narrow(1, 0, 1);
        return residual(l, z, rows);
    }
    return residual(l, z, x);
}

torch::Tensor BoosterImpl::residual(const torch::Tensor& l, const torch::Tensor& z,
                                    const torch::Tensor& x) {
    switch (mode) {
        case ResidualMode::In:
            return dense(decoder, l + z);
        case ResidualMode::Out:
            return dense(decoder, l) + x;
        case ResidualMode::Hybrid:
            return dense(decoder, l + z) + x;
        case ResidualMode::None:
            return dense(decoder, l);
        case ResidualMode::Mlp:
            break;
    }
    return x;
}

ClassifierImpl::ClassifierImpl(const VitConfig& config, Booster b) {
    vit = register_module("vit", Vit(config));
    if (b) booster = register_module("booster", b);
}

bool ClassifierImpl::llmIsLastMixer() const {
    return booster && booster->mode != ResidualMode::Mlp;
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& images, TailTokens tail) {
    return run(images, kPassThrough, tail, TrainingPass{});
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& images, const TokenTap& tap,
                                      TailTokens tail) {
    return run(images, tap, tail, TrainingPass{});
}

torch::Tensor ClassifierImpl::forwardTraining(const torch::Tensor& images,
                                              const TrainingPass& pass) {
    return run(images, kPassThrough, pass.patchTokens ? TailTokens::All : TailTokens::ClassToken,
               pass);
}

torch::Tensor ClassifierImpl::run(const torch::Tensor& images, const TokenTap& tap, TailTokens tail,
                                  const TrainingPass& pass) {
    const torch::Tensor branchScales =
        pass.branchScales.defined() ? pass.branchScales.to(images.options()) : pass.branchScales;
    // A mean-pooled head reads every patch token: every row is needed.
    const bool classRow = tail == TailTokens::ClassToken && !vit->config.meanPool;
    const size_t last = vit->blocks->size() - 1;
    auto tokens = vit->embed(images, pass.maskedPatches, pass.maskToken);
    for (size_t i = 0; i < vit->blocks->size(); ++i)
        tokens = vit->blocks[i]->as<VitBlock>()->forward(
            tokens, tap, "block:" + std::to_string(i), classRow && !llmIsLastMixer() && i == last,
            branchScales.defined() ? branchScales.select(1, int64_t(i)) : torch::Tensor());
    if (booster) tokens = booster->forward(tokens, tap, classRow && llmIsLastMixer());
    const torch::Tensor normed = vit->norm(tokens);
    if (pass.patchTokens) *pass.patchTokens = normed.narrow(1, 1, normed.size(1) - 1);
    return dense(vit->head, vit->config.meanPool ? normed.narrow(1, 1, normed.size(1) - 1).mean(1)
                                                 : normed.select(1, 0));
}

void initialiseTrainable(torch::nn::Module& module, uint64_t seed) {
    torch::NoGradGuard noGrad;
    auto generator = at::detail::createCPUGenerator(seed);
    for (auto& p : module.named_parameters()) {
        const std::string& name = p.key();
        torch::Tensor t = p.value();
        // The LLM's weights come from its checkpoint; the attention scales
        // keep the value their block started them at.
        if (!t.requires_grad() || name.find(".llm.") != std::string::npos ||
            name.find("attn_log_scale") != std::string::npos)
            continue;
        const bool isNorm = name.find("norm") != std::string::npos;
        if (name.find("bias") != std::string::npos) {
            t.zero_();
        } else if (isNorm) {
            t.fill_(1.0);
        } else if (name.find("patch_stem") != std::string::npos) {
            // The stem's convolutions feed ReLUs: He's normal, std sqrt(2 /
            // fan-in), keeps the signal's scale through them, where std 0.02
            // would shrink it by about 50 times at each one.
            const double fanIn = double(t.numel() / t.size(0));
            t.copy_(at::normal(0.0, std::sqrt(2.0 / fanIn), t.sizes(), generator));
        } else {
            // Truncated normal, std 0.02, cut at two standard deviations.
            t.copy_(at::normal(0.0, 0.02, t.sizes(), generator).clamp(-0.04, 0.04));
        }
    }
}

}  // namespace rllm
