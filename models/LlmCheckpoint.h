#pragma once
// Reading transformer layers out of pretrained LLM checkpoints, without
// LibTorch: llama2.c .bin files, Hugging Face safetensors folders (LLaMA,
// Mistral and Qwen2 tensor names; F32, F16, BF16) and llama.cpp's GGUF files
// (F32, F16, BF16, Q8_0, Q4_0, Q4_1, dequantised). Only the chosen layers and
// the final norm are read; safetensors shards are memory-mapped, so a 7B
// checkpoint is never read whole. Every header value, shape and offset is
// checked before use.

#include <string>
#include <vector>

namespace rllm {

struct LlmArchitecture {
    std::string format;     // "llama2.c", "huggingface" or "gguf"
    std::string modelType;  // "llama", "mistral", "qwen2"
    int dim = 0;            // hidden size
    int layers = 0;
    int heads = 0;
    int kvHeads = 0;
    int ffn = 0;  // intermediate size
    int vocab = 0;
    double eps = 1e-5;     // RMSNorm epsilon
    bool qkvBias = false;  // Qwen2 has q/k/v biases
    std::string dtype;     // storage type of the weights
};

// One decoder layer's weights, float32, row-major [out, in] as in PyTorch Linear.
struct LlamaLayerWeights {
    int index = 0;
    std::vector<float> attentionNorm, wq, wk, wv, wo, bq, bk, bv;
    std::vector<float> ffnNorm, w1, w2, w3;  // w1 gate, w3 up, w2 down
};

struct LlmWeights {
    LlmArchitecture architecture;
    std::string source;  // file or folder name
    std::vector<LlamaLayerWeights> layers;
    std::vector<float> finalNorm;
};

// Architecture of a llama2.c .bin file, a GGUF file or a Hugging Face folder (or its config.json).
LlmArchitecture inspectLlm(const std::string& path);

// Reads the given layers (negative: from the end, -1 = last) and the final norm.
LlmWeights loadLlmLayers(const std::string& path, const std::vector<int>& layers);

}  // namespace rllm
