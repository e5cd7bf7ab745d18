#pragma once
// The networks of the R-LLM method in LibTorch (DESIGN.md section 1):
//   ViT (2D: conv patches; 3D: cubic patch vectors), pre-norm blocks,
//   the LLaMA decoder layer (RMSNorm, grouped-query attention without mask
//   or rotary embedding, SwiGLU), the frozen LLM block, and the booster
//   F_D(LLM(F_E(x)) ...) with its residual modes, all assembled in
//   Classifier: blocks -> [booster] -> norm -> head(class token).

#include "models/LlmCheckpoint.h"

#include <torch/torch.h>

#include <functional>
#include <string>

namespace rllm {

// Called at named points of the forward pass with the tokens there; returns
// the tokens to continue with (the same tensor, typically, after keeping a
// handle to it). Names: "block:I:norm1" (block I's first norm), "block:I"
// (block I's output), "booster:llm" (the LLM block's output), and
// "block:I:attn" (block I's attention probabilities, (B, heads, T, T), not
// tokens). Used by the CAMs.
using TokenTap = std::function<torch::Tensor(const std::string& name, const torch::Tensor& tokens)>;

struct VitConfig {
    int dim = 192;
    int depth = 12;
    int heads = 3;
    int mlpRatio = 4;
    int imageSize = 28;  // side of the square / cubic input
    int patch = 4;
    int channels = 1;
    int classes = 2;
    bool volumetric = false;

    int gridSide() const { return imageSize / patch; }
    int patchCount() const;
    // tiny (192, 12, 3), small (384, 12, 6), base (768, 12, 12).
    static VitConfig preset(const std::string& name);
};

class VitBlockImpl : public torch::nn::Module {
  public:
    VitBlockImpl(int dim, int heads, int mlpRatio);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor forward(const torch::Tensor& x, const TokenTap& tap, const std::string& name);
    // Multi-head self-attention only; `tap` (when given) sees the attention
    // probabilities as name + ":attn".
    torch::Tensor attention(const torch::Tensor& x, const TokenTap* tap = nullptr,
                            const std::string& name = {});

    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
    int heads;
};
TORCH_MODULE(VitBlock);

class VitImpl : public torch::nn::Module {
  public:
    explicit VitImpl(const VitConfig& config);
    // Patch tokens with the class token first and position embedding added: (B, 1+N, dim).
    torch::Tensor embed(const torch::Tensor& images);

    VitConfig config;
    torch::nn::Conv2d patchConv{nullptr};                              // 2D
    torch::nn::LayerNorm patchNormIn{nullptr}, patchNormOut{nullptr};  // 3D
    torch::nn::Linear patchLinear{nullptr};                            // 3D
    torch::Tensor classToken, positionEmbedding;
    torch::nn::ModuleList blocks;
    torch::nn::LayerNorm norm{nullptr};
    torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Vit);

class RmsNormImpl : public torch::nn::Module {
  public:
    RmsNormImpl(int dim, double eps);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor weight;
    double eps;
};
TORCH_MODULE(RmsNorm);

class LlamaLayerImpl : public torch::nn::Module {
  public:
    explicit LlamaLayerImpl(const LlmArchitecture& arch);
    torch::Tensor forward(const torch::Tensor& z);
    void load(const LlamaLayerWeights& weights);

    LlmArchitecture arch;
    RmsNorm attentionNorm{nullptr}, ffnNorm{nullptr};
    torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};
    torch::nn::Linear w1{nullptr}, w2{nullptr}, w3{nullptr};
};
TORCH_MODULE(LlamaLayer);

// How the LLM's final RMSNorm acts: with unit weight (the reference code never
// loads it), with the checkpoint's weight, or not at all.
enum class FinalNorm { Unit, Loaded, None };
FinalNorm parseFinalNorm(const std::string& name);
std::string finalNormName(FinalNorm mode);

// One or more consecutive LLaMA layers and the final norm; frozen.
class LlmBlockImpl : public torch::nn::Module {
  public:
    LlmBlockImpl(const LlmArchitecture& arch, int layerCount, FinalNorm mode);
    torch::Tensor forward(const torch::Tensor& z);
    // Copies pretrained weights in (layer count must match).
    void load(const LlmWeights& weights);
    // LLaMA's own initialisation (normal, std 0.02; norms one), from `seed`.
    void randomize(uint64_t seed);
    void freeze();

    LlmArchitecture arch;
    FinalNorm mode;
    torch::nn::ModuleList layers;
    RmsNorm finalNorm{nullptr};
};
TORCH_MODULE(LlmBlock);

enum class ResidualMode { In, Out, Hybrid, None, Mlp };
ResidualMode parseResidualMode(const std::string& name);
std::string residualModeName(ResidualMode mode);

class BoosterImpl : public torch::nn::Module {
  public:
    // `llm` may be empty only for the Mlp ablation.
    BoosterImpl(int dim, int llmDim, ResidualMode mode, LlmBlock llm);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor forward(const torch::Tensor& x, const TokenTap& tap);

    ResidualMode mode;
    torch::nn::Linear encoder{nullptr}, decoder{nullptr};  // F_E, F_D (no bias)
    LlmBlock llm{nullptr};
};
TORCH_MODULE(Booster);

class ClassifierImpl : public torch::nn::Module {
  public:
    ClassifierImpl(const VitConfig& config, Booster booster);
    torch::Tensor forward(const torch::Tensor& images);  // logits (B, classes)
    torch::Tensor forward(const torch::Tensor& images, const TokenTap& tap);

    Vit vit{nullptr};
    Booster booster{nullptr};  // empty for the baseline
};
TORCH_MODULE(Classifier);

// Trunc-normal(0.02) weights and zero biases for the trainable parts, as timm's ViT.
void initialiseTrainable(torch::nn::Module& module, uint64_t seed);

}  // namespace rllm
