#pragma once
// The networks of the R-LLM method in LibTorch (docs/method.md):
//   ViT (2D: conv patches; 3D: cubic patch vectors), pre-norm blocks,
//   the LLaMA decoder layer (RMSNorm, grouped-query attention without mask
//   or rotary embedding, SwiGLU), the frozen LLM block, and the booster
//   F_D(LLM(F_E(x)) ...) with its residual modes, all assembled in
//   Classifier: blocks -> [booster] -> norm -> head(class token).

#include "models/LlmCheckpoint.h"
#include "models/MatrixProducts.h"

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

namespace rllm {

// Called at named points of the forward pass with the tokens there; returns
// the tokens to continue with (the same tensor, typically, after keeping a
// handle to it). Names: "block:I:norm1" (block I's first norm), "block:I"
// (block I's output), "booster:llm" (the LLM block's output), and
// "block:I:attn" (block I's attention probabilities, (B, heads, T, T), not
// tokens). Used by the CAMs.
using TokenTap = std::function<torch::Tensor(const std::string& name, const torch::Tensor& tokens)>;

// How many rows the last token-mixing layer (the last layer of the LLM block,
// or the last ViT block when there is no LLM) computes. Where the head reads
// the class token (not VitConfig::meanPool), it reads that token alone and
// every layer after that one works token by token, so only the class
// token's row there can reach the logits: its query, attention output and
// MLP / SwiGLU are computed for that one row, while keys and values still
// come from every token. A mean-pooled head needs every row. The logits are the same as with every
// row computed (test_models checks it); All is for taps that read that layer's output (e.g. an
// EigenCAM at booster:llm) and for attention rollout.
enum class TailTokens { ClassToken, All };

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
    // Two options for small data sets that keep the ViT a ViT (Lee, Lee and
    // Song 2021, "Vision Transformer for Small-Size Datasets"):
    // shifted patch tokenisation (each patch vector also holds the image moved
    // by half a patch in every diagonal direction) and locality self-attention
    // (a learnt softmax temperature; no token attends to itself).
    bool shiftedPatches = false;
    bool localityAttention = false;
    // Whether a linear patch embedding first normalises each patch vector
    // (LayerNorm over its voxels: the reference 3D design). That removes each
    // patch's mean and scale, so every patch wholly inside or wholly outside a
    // uniform region (all of a binary mask's patches away from its surface)
    // becomes the same token. Off, the Linear sees the voxel values.
    bool patchNorm = true;
    // What the head reads: the class token (false, the original ViT), or the
    // mean of the patch tokens after the final norm (global average pooling,
    // as in Beyer et al. 2022, "Better plain ViT baselines for ImageNet-1k",
    // and timm's global_pool='avg'). The class token stays a token either way.
    bool meanPool = false;
    // 2D: patches become tokens through a small convolutional stem instead of
    // one strided convolution (Xiao et al. 2021, "Early convolutions help
    // transformers see better"): log2(patch) 3x3 convolutions of stride 2,
    // each followed by a ReLU, then a 1x1 convolution to the width. The tokens
    // keep the patch grid; what changes is that neighbouring pixels are
    // combined locally, and nonlinearly, before attention sees them.
    bool convStem = false;

    int gridSide() const { return imageSize / patch; }
    int patchCount() const;
    // The length of one patch vector: channels x patch^d, times 5 (2D) or 9
    // (3D) with shifted patches.
    int64_t patchVectorLength() const;
    // Whether patches become tokens through LayerNorm, Linear and LayerNorm
    // (3D, or shifted patches) rather than a strided convolution (plain 2D).
    bool linearPatchEmbedding() const { return volumetric || shiftedPatches; }
    // tiny (192, 12, 3), small (384, 12, 6), base (768, 12, 12), or "WxH":
    // W wide with H heads, 12 blocks.
    static VitConfig preset(const std::string& name);
};

// The patch vectors of `images` ((B, C, H, W) or (B, C, D, H, W)), (B, N, V)
// with N patches in row-major grid order. Each vector lists its voxels in
// row-major order within the patch, the channels fastest. With `shifted`, the
// channels are those of the image followed by those of its copies moved by
// half a patch (floor(patch / 2) voxels) towards each diagonal corner, zeros
// filling in, corners in row-major order of their (-1, +1) signs per axis.
torch::Tensor patchVectors(const torch::Tensor& images, int patch, bool volumetric, bool shifted);

class VitBlockImpl : public torch::nn::Module {
  public:
    VitBlockImpl(int dim, int heads, int mlpRatio, bool localityAttention = false);
    // `classRowOnly`: the output holds the class token's row alone (TailTokens).
    torch::Tensor forward(const torch::Tensor& x, bool classRowOnly = false);
    // `branchScales` (optional, (B, 2)): each case's attention and MLP
    // branches are multiplied by these before they join the residual stream
    // (stochastic depth: 0 drops a branch).
    torch::Tensor forward(const torch::Tensor& x, const TokenTap& tap, const std::string& name,
                          bool classRowOnly = false, const torch::Tensor& branchScales = {});
    // Multi-head self-attention only, before the output projection: the
    // heads side by side, (B, T, C) ((B, 1, C) for the class row only);
    // `tap` (when given) sees the attention probabilities as name + ":attn"
    // ((B, heads, 1, T) for the class row only).
    torch::Tensor attention(const torch::Tensor& x, const TokenTap* tap = nullptr,
                            const std::string& name = {}, bool classRowOnly = false);

    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
    // Locality self-attention: the logarithm of the factor the scores are
    // multiplied by (starts at log(1 / sqrt(head width)), learnt); undefined
    // for plain attention.
    torch::Tensor attnLogScale;
    int heads;
};
TORCH_MODULE(VitBlock);

class VitImpl : public torch::nn::Module {
  public:
    explicit VitImpl(const VitConfig& config);
    // Patch tokens with the class token first and position embedding added:
    // (B, 1+N, dim). With `maskedPatches` (bool (B, N)), those patches'
    // tokens are `maskToken` (dim) instead, before the position embedding
    // (masked image modelling, MaskedModelling.h).
    torch::Tensor embed(const torch::Tensor& images, const torch::Tensor& maskedPatches = {},
                        const torch::Tensor& maskToken = {});

    VitConfig config;
    torch::nn::Conv2d patchConv{nullptr};      // 2D
    torch::nn::ModuleList patchStem{nullptr};  // 2D with VitConfig::convStem
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
    // `classRowOnly`: only the first token's row is computed (TailTokens).
    torch::Tensor forward(const torch::Tensor& z, bool classRowOnly = false);
    void load(const LlamaLayerWeights& weights);
    // The type the matrix products and attention run in: bfloat16 on GPUs
    // (LlmBlockImpl::setComputeType). The norms and the residual stream stay
    // float32, and so do the parameters: the products use copies made here,
    // so the weights keep their exact values (and the bundle its hash). Call
    // again after moving the layer to another device.
    void setComputeType(torch::ScalarType type);

    LlmArchitecture arch;
    RmsNorm attentionNorm{nullptr}, ffnNorm{nullptr};
    torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};
    torch::nn::Linear w1{nullptr}, w2{nullptr}, w3{nullptr};

  private:
    torch::Tensor linear(const torch::nn::Linear& layer, const torch::Tensor& x,
                         const DenseEpilogue& after = {}) const;
    torch::ScalarType computeType_ = torch::kFloat32;
    std::map<const torch::nn::LinearImpl*, std::pair<torch::Tensor, torch::Tensor>> lowered_;
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
    // `classRowOnly`: the last layer computes the first token's row alone.
    torch::Tensor forward(const torch::Tensor& z, bool classRowOnly = false);
    // Copies pretrained weights in (layer count must match).
    void load(const LlmWeights& weights);
    // LLaMA's own initialisation (normal, std 0.02; norms one), from `seed`.
    void randomize(uint64_t seed);
    void freeze();
    // Every layer's compute type (LlamaLayerImpl::setComputeType).
    void setComputeType(torch::ScalarType type);
    torch::ScalarType computeType() const { return computeType_; }

    LlmArchitecture arch;
    FinalNorm mode;
    torch::nn::ModuleList layers;
    RmsNorm finalNorm{nullptr};

  private:
    torch::ScalarType computeType_ = torch::kFloat32;
};
TORCH_MODULE(LlmBlock);

enum class ResidualMode { In, Out, Hybrid, None, Mlp };
ResidualMode parseResidualMode(const std::string& name);
std::string residualModeName(ResidualMode mode);

class BoosterImpl : public torch::nn::Module {
  public:
    // `llm` may be empty only for the Mlp ablation.
    BoosterImpl(int dim, int llmDim, ResidualMode mode, LlmBlock llm);
    // `classRowOnly`: the result holds the class token's row alone; with an
    // LLM its last layer still reads every token's keys and values.
    torch::Tensor forward(const torch::Tensor& x, bool classRowOnly = false);
    torch::Tensor forward(const torch::Tensor& x, const TokenTap& tap, bool classRowOnly = false);

    ResidualMode mode;
    torch::nn::Linear encoder{nullptr}, decoder{nullptr};  // F_E, F_D (no bias)
    LlmBlock llm{nullptr};

  private:
    // F_D and the residual connections of `mode`, from the LLM's output l,
    // its input z and the booster's input x (rows aligned).
    torch::Tensor residual(const torch::Tensor& l, const torch::Tensor& z, const torch::Tensor& x);
};
TORCH_MODULE(Booster);

// What a training step changes in the forward pass (Training.cpp); each
// part left undefined changes nothing.
struct TrainingPass {
    // Stochastic depth: (B, depth, 2) scales of each ViT block's attention
    // and MLP branch per case (TrainingRecipe's drawDropPath); undefined
    // leaves every branch whole.
    torch::Tensor branchScales;
    // Masked image modelling: the patches whose tokens become the mask token
    // (VitImpl::embed).
    torch::Tensor maskedPatches, maskToken;
    // When set, every row is computed and this receives the patch tokens
    // after the final norm, (B, N, dim) in grid order (the class token left
    // out): what the auxiliary losses read (RelativeLocalisation.h,
    // MaskedModelling.h).
    torch::Tensor* patchTokens = nullptr;
};

class ClassifierImpl : public torch::nn::Module {
  public:
    ClassifierImpl(const VitConfig& config, Booster booster);
    // Logits (B, classes).
    torch::Tensor forward(const torch::Tensor& images, TailTokens tail = TailTokens::ClassToken);
    torch::Tensor forward(const torch::Tensor& images, const TokenTap& tap,
                          TailTokens tail = TailTokens::ClassToken);
    // The training forward: logits (B, classes) with `pass`'s changes.
    torch::Tensor forwardTraining(const torch::Tensor& images, const TrainingPass& pass);

    // Whether the LLM block (not the last ViT block) is the last layer that mixes tokens.
    bool llmIsLastMixer() const;

    Vit vit{nullptr};
    Booster booster{nullptr};  // empty for the baseline

  private:
    torch::Tensor run(const torch::Tensor& images, const TokenTap& tap, TailTokens tail,
                      const TrainingPass& pass);
};
TORCH_MODULE(Classifier);

// Trunc-normal(0.02) weights and zero biases for the trainable parts, as timm's ViT.
void initialiseTrainable(torch::nn::Module& module, uint64_t seed);

}  // namespace rllm
