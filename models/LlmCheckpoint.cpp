#include "models/LlmCheckpoint.h"

#include "core/Error.h"
#include "core/io/InputChecks.h"
#include "models/Gguf.h"
#include "models/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace fs = std::filesystem;

namespace rllm {
namespace {

// ---- llama2.c -------------------------------------------------------------
// Header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative
// when the classifier is not shared), seq_len; then float32 weights in the
// order of llama2.c's checkpoint_init_weights.

struct Llama2cLayout {
    LlmArchitecture arch;
    int seqLen = 0;
    bool sharedClassifier = true;
    // Offsets in floats from the start of the weights.
    uint64_t rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, end;
};

Llama2cLayout llama2cLayout(const std::string& path) {
    requireRegularFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(path, "cannot be opened.");
    int32_t h[7];
    if (!in.read(reinterpret_cast<char*>(h), sizeof h))
        throw FileError(path, "is too short for a llama2.c header (28 bytes).");
    Llama2cLayout l;
    l.arch.format = "llama2.c";
    l.arch.modelType = "llama";
    l.arch.dim = h[0];
    l.arch.ffn = h[1];
    l.arch.layers = h[2];
    l.arch.heads = h[3];
    l.arch.kvHeads = h[4];
    l.sharedClassifier = h[5] > 0;
    // A negative vocabulary size means "separate classifier"; INT32_MIN has
    // no positive counterpart and is refused below as implausible.
    l.arch.vocab = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -h[5] : h[5]);
    l.seqLen = h[6];
    l.arch.eps = 1e-5;
    l.arch.dtype = "F32";
    const auto& a = l.arch;
    if (a.dim <= 0 || a.dim > 65536 || a.ffn <= 0 || a.ffn > 1 << 20 || a.layers <= 0 ||
        a.layers > 1024 || a.heads <= 0 || a.dim % a.heads != 0 || a.kvHeads <= 0 ||
        a.heads % a.kvHeads != 0 || a.vocab <= 0 || a.vocab > 1 << 22 || l.seqLen <= 0 ||
        l.seqLen > 1 << 22)
        throw FileError(path,
                        "has implausible llama2.c header values (dim " + std::to_string(a.dim) +
                            ", hidden " + std::to_string(a.ffn) + ", layers " +
                            std::to_string(a.layers) + ", heads " + std::to_string(a.heads) +
                            ", kv heads " + std::to_string(a.kvHeads) + ").",
                        "It is not a llama2.c checkpoint, or it is corrupt.");
    const uint64_t d = a.dim, L = a.layers, f = a.ffn, kv = d / a.heads * a.kvHeads;
    uint64_t o = uint64_t(a.vocab) * d;  // token embedding
    l.rmsAtt = o;
    o += L * d;
    l.wq = o;
    o += L * d * d;
    l.wk = o;
    o += L * kv * d;
    l.wv = o;
    o += L * kv * d;
    l.wo = o;
    o += L * d * d;
    l.rmsFfn = o;
    o += L * d;
    l.w1 = o;
    o += L * f * d;
    l.w2 = o;
    o += L * d * f;
    l.w3 = o;
    o += L * f * d;
    l.rmsFinal = o;
    o += d;
    o += uint64_t(l.seqLen) * (d / a.heads);  // RoPE tables (real and imaginary halves)
    if (!l.sharedClassifier) o += uint64_t(a.vocab) * d;
    l.end = o;
    const uint64_t expected = 28 + 4 * l.end, actual = fs::file_size(path);
    if (actual != expected)
        throw FileError(path, "is " + std::to_string(actual) + " bytes but its header implies " +
                                  std::to_string(expected) +
                                  "; it is truncated or not a llama2.c checkpoint.");
    return l;
}

std::vector<float> readFloats(std::ifstream& in, const std::string& path, uint64_t offset,
                              uint64_t count) {
    std::vector<float> values(count);
    in.seekg(static_cast<std::streamoff>(28 + 4 * offset));
    if (!in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(4 * count)))
        throw FileError(path, "could not be read (truncated?).");
    return values;
}

LlmWeights loadLlama2c(const std::string& path, const std::vector<int>& indices) {
    Llama2cLayout l = llama2cLayout(path);
    std::ifstream in(path, std::ios::binary);
    LlmWeights w;
    w.architecture = l.arch;
    w.source = fs::path(path).filename().string();
    const uint64_t d = l.arch.dim, f = l.arch.ffn, kv = d / l.arch.heads * l.arch.kvHeads;
    for (int i : indices) {
        LlamaLayerWeights layer;
        layer.index = i;
        layer.attentionNorm = readFloats(in, path, l.rmsAtt + i * d, d);
        layer.wq = readFloats(in, path, l.wq + i * d * d, d * d);
        layer.wk = readFloats(in, path, l.wk + i * kv * d, kv * d);
        layer.wv = readFloats(in, path, l.wv + i * kv * d, kv * d);
        layer.wo = readFloats(in, path, l.wo + i * d * d, d * d);
        layer.ffnNorm = readFloats(in, path, l.rmsFfn + i * d, d);
        layer.w1 = readFloats(in, path, l.w1 + i * f * d, f * d);
        layer.w2 = readFloats(in, path, l.w2 + i * d * f, d * f);
        layer.w3 = readFloats(in, path, l.w3 + i * f * d, f * d);
        w.layers.push_back(std::move(layer));
    }
    w.finalNorm = readFloats(in, path, l.rmsFinal, d);
    return w;
}

// ---- Hugging Face ---------------------------------------------------------

fs::path hfFolder(const std::string& path) {
    fs::path p(path);
    if (fs::is_regular_file(p) && p.filename() == "config.json") return p.parent_path();
    return p;
}

LlmArchitecture hfArchitecture(const fs::path& folder) {
    const fs::path configPath = folder / "config.json";
    if (fs::exists(configPath)) requireRegularFile(configPath.string());
    std::ifstream in(configPath);
    if (!in)
        throw FileError(configPath.string(), "is missing.",
                        "A Hugging Face checkpoint folder holds config.json and *.safetensors.");
    nlohmann::json c;
    try {
        c = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        throw FileError(configPath.string(), std::string("is not valid JSON (") + e.what() + ").");
    }
    LlmArchitecture a;
    a.format = "huggingface";
    // Sizes must be integers that fit: nlohmann converts 3e125 to int
    // without a word (undefined behaviour, found by the fuzzer).
    auto size = [&](const char* key, const int* fallback) {
        if (!c.contains(key)) {
            if (fallback) return *fallback;
            throw FileError(configPath.string(),
                            std::string("lacks the field '") + key + "' LLaMA-family models have.");
        }
        const nlohmann::json& v = c.at(key);
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1 << 30))
            throw FileError(configPath.string(),
                            std::string("has a '") + key + "' that is not a plausible size.");
        return static_cast<int>(v.get<int64_t>());
    };
    try {
        a.modelType = c.value("model_type", std::string("llama"));
        a.dim = size("hidden_size", nullptr);
        a.layers = size("num_hidden_layers", nullptr);
        a.heads = size("num_attention_heads", nullptr);
        a.kvHeads = size("num_key_value_heads", &a.heads);
        a.ffn = size("intermediate_size", nullptr);
        const int noVocabulary = 0;
        a.vocab = size("vocab_size", &noVocabulary);
        a.eps = c.value("rms_norm_eps", 1e-6);
        a.dtype = c.value("torch_dtype", std::string());
    } catch (const FileError&) {
        throw;
    } catch (const std::exception& e) {
        throw FileError(configPath.string(),
                        std::string("lacks a field LLaMA-family models have (") + e.what() + ").");
    }
    if (a.modelType != "llama" && a.modelType != "mistral" && a.modelType != "qwen2")
        throw FileError(
            configPath.string(),
            "describes a '" + a.modelType + "' model; supported are llama, mistral and qwen2.");
    a.qkvBias = a.modelType == "qwen2";
    if (!(a.eps > 0 && a.eps < 1))
        throw FileError(configPath.string(), "has an rms_norm_eps outside (0, 1).");
    if (a.dim <= 0 || a.dim > 65536 || a.layers <= 0 || a.layers > 1024 || a.heads <= 0 ||
        a.heads > 1024 || a.kvHeads <= 0 || a.ffn <= 0 || a.ffn > (1 << 20) ||
        a.dim % a.heads != 0 || a.heads % a.kvHeads != 0)
        throw FileError(configPath.string(), "has inconsistent sizes (hidden " +
                                                 std::to_string(a.dim) + ", heads " +
                                                 std::to_string(a.heads) + ", kv heads " +
                                                 std::to_string(a.kvHeads) + ").");
    return a;
}

// Tensor name -> shard file, from model.safetensors.index.json or the single file.
std::map<std::string, fs::path> hfWeightMap(const fs::path& folder) {
    std::map<std::string, fs::path> map;
    const fs::path index = folder / "model.safetensors.index.json";
    if (fs::exists(index)) {
        std::ifstream in(index);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(in);
            for (const auto& [name, file] : j.at("weight_map").items()) {
                // A shard is a file in this folder, nothing else: no path
                // that climbs out of it or starts elsewhere.
                const std::string shard = file.get<std::string>();
                const fs::path shardPath(shard);
                if (shard.empty() || shardPath.is_absolute() ||
                    shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
                    shard == "." || shard == ".." || shardPath.extension() != ".safetensors")
                    throw FileError(index.string(),
                                    "maps tensor '" + name + "' to '" + shard +
                                        "', which is not a .safetensors file in the "
                                        "checkpoint's folder.",
                                    "The index is corrupt or was tampered with.");
                map[name] = folder / shardPath;
            }
        } catch (const FileError&) {
            throw;
        } catch (const std::exception& e) {
            throw FileError(index.string(),
                            std::string("is not a valid safetensors index (") + e.what() + ").");
        }
        return map;
    }
    std::vector<fs::path> shards;
    for (const auto& entry : fs::directory_iterator(folder))
        if (entry.path().extension() == ".safetensors") shards.push_back(entry.path());
    if (shards.empty()) throw FileError(folder.string(), "holds no *.safetensors file.");
    for (const fs::path& shard : shards) {
        const SafetensorsFile file(
            shard.string());  // named: it must outlive the loop over its tensors
        for (const auto& [name, info] : file.tensors()) map[name] = shard;
    }
    return map;
}

LlmWeights loadHuggingFace(const std::string& path, const std::vector<int>& indices) {
    const fs::path folder = hfFolder(path);
    LlmWeights w;
    w.architecture = hfArchitecture(folder);
    w.source = folder.filename().string();
    const auto& a = w.architecture;
    const auto map = hfWeightMap(folder);
    std::map<fs::path, std::unique_ptr<SafetensorsFile>> open;
    std::string storedType;
    auto read = [&](const std::string& name, std::vector<int64_t> shape) {
        auto it = map.find(name);
        if (it == map.end()) throw FileError(folder.string(), "has no tensor '" + name + "'.");
        auto& file = open[it->second];
        if (!file) file = std::make_unique<SafetensorsFile>(it->second.string());
        const TensorInfo& info = file->info(name);
        if (info.shape != shape) {
            std::string expected, got;
            for (int64_t d : shape) expected += std::to_string(d) + " ";
            for (int64_t d : info.shape) got += std::to_string(d) + " ";
            throw FileError(it->second.string(), "tensor '" + name + "' has shape [ " + got +
                                                     "] but config.json implies [ " + expected +
                                                     "].");
        }
        storedType = info.dtype;
        return file->readFloat(name);
    };
    const int64_t d = a.dim, kv = d / a.heads * a.kvHeads, f = a.ffn;
    for (int i : indices) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        LlamaLayerWeights layer;
        layer.index = i;
        layer.attentionNorm = read(p + "input_layernorm.weight", {d});
        layer.wq = read(p + "self_attn.q_proj.weight", {d, d});
        layer.wk = read(p + "self_attn.k_proj.weight", {kv, d});
        layer.wv = read(p + "self_attn.v_proj.weight", {kv, d});
        layer.wo = read(p + "self_attn.o_proj.weight", {d, d});
        if (a.qkvBias) {
            layer.bq = read(p + "self_attn.q_proj.bias", {d});
            layer.bk = read(p + "self_attn.k_proj.bias", {kv});
            layer.bv = read(p + "self_attn.v_proj.bias", {kv});
        }
        layer.ffnNorm = read(p + "post_attention_layernorm.weight", {d});
        layer.w1 = read(p + "mlp.gate_proj.weight", {f, d});
        layer.w3 = read(p + "mlp.up_proj.weight", {f, d});
        layer.w2 = read(p + "mlp.down_proj.weight", {d, f});
        w.layers.push_back(std::move(layer));
    }
    w.finalNorm = read("model.norm.weight", {d});
    w.architecture.dtype = storedType;
    return w;
}

bool isHuggingFace(const std::string& path) {
    return fs::is_directory(path) || fs::path(path).filename() == "config.json";
}

// ---- GGUF (llama.cpp) -----------------------------------------------------
// One file: metadata keys under the architecture's name, tensors named
// blk.N.attn_q.weight etc., quantised types dequantised on load (Gguf.cpp).
// llama.cpp stores q and k of LLaMA models with the rows of each head in
// Meta's interleaved order, not Hugging Face's; the layer here has no rotary
// embedding, and attention scores are sums over a head's dimensions, so that
// order does not change what the block computes.

LlmArchitecture ggufArchitecture(const GgufFile& file) {
    LlmArchitecture a;
    a.format = "gguf";
    const std::string arch = file.text("general.architecture");
    if (arch != "llama" && arch != "qwen2")
        throw FileError(file.path(), "holds a '" + arch +
                                         "' model; LLaMA-architecture (llama, qwen2) GGUF files "
                                         "are read.");
    a.modelType = arch;
    a.qkvBias = arch == "qwen2";
    const std::string p = arch + ".";
    a.dim = int(file.integer(p + "embedding_length"));
    a.layers = int(file.integer(p + "block_count"));
    a.ffn = int(file.integer(p + "feed_forward_length"));
    a.heads = int(file.integer(p + "attention.head_count"));
    a.kvHeads = file.has(p + "attention.head_count_kv")
                    ? int(file.integer(p + "attention.head_count_kv"))
                    : a.heads;
    a.eps = file.real(p + "attention.layer_norm_rms_epsilon");
    a.vocab = file.has(p + "vocab_size")          ? int(file.integer(p + "vocab_size"))
              : file.has("tokenizer.ggml.tokens") ? int(file.arrayLength("tokenizer.ggml.tokens"))
                                                  : 0;
    if (a.dim <= 0 || a.dim > 65536 || a.ffn <= 0 || a.ffn > 1 << 20 || a.layers <= 0 ||
        a.layers > 1024 || a.heads <= 0 || a.dim % a.heads != 0 || a.kvHeads <= 0 ||
        a.heads % a.kvHeads != 0 || !(a.eps > 0 && a.eps < 1))
        throw FileError(file.path(),
                        "has implausible model settings (dim " + std::to_string(a.dim) +
                            ", hidden " + std::to_string(a.ffn) + ", layers " +
                            std::to_string(a.layers) + ", heads " + std::to_string(a.heads) +
                            ", kv heads " + std::to_string(a.kvHeads) + ").");
    a.dtype = ggmlTypeName(file.info("blk.0.attn_q.weight").type);
    return a;
}

LlmWeights loadGguf(const std::string& path, const std::vector<int>& indices) {
    const GgufFile file(path);
    LlmWeights w;
    w.architecture = ggufArchitecture(file);
    w.source = fs::path(path).filename().string();
    const auto& a = w.architecture;
    const int64_t d = a.dim, kv = d / a.heads * a.kvHeads, f = a.ffn;
    for (int i : indices) {
        const std::string p = "blk." + std::to_string(i) + ".";
        LlamaLayerWeights layer;
        layer.index = i;
        layer.attentionNorm = file.readFloat(p + "attn_norm.weight", {d});
        layer.wq = file.readFloat(p + "attn_q.weight", {d, d});
        layer.wk = file.readFloat(p + "attn_k.weight", {kv, d});
        layer.wv = file.readFloat(p + "attn_v.weight", {kv, d});
        layer.wo = file.readFloat(p + "attn_output.weight", {d, d});
        if (a.qkvBias) {
            layer.bq = file.readFloat(p + "attn_q.bias", {d});
            layer.bk = file.readFloat(p + "attn_k.bias", {kv});
            layer.bv = file.readFloat(p + "attn_v.bias", {kv});
        }
        layer.ffnNorm = file.readFloat(p + "ffn_norm.weight", {d});
        layer.w1 = file.readFloat(p + "ffn_gate.weight", {f, d});
        layer.w3 = file.readFloat(p + "ffn_up.weight", {f, d});
        layer.w2 = file.readFloat(p + "ffn_down.weight", {d, f});
        w.layers.push_back(std::move(layer));
    }
    w.finalNorm = file.readFloat("output_norm.weight", {d});
    return w;
}

}  // namespace

LlmArchitecture inspectLlm(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw FileError(path, "does not exist.");
    if (!isHuggingFace(path))
        return isGgufFile(path) ? ggufArchitecture(GgufFile(path)) : llama2cLayout(path).arch;
    const fs::path folder = hfFolder(path);
    const LlmArchitecture architecture = hfArchitecture(folder);
    if (fs::exists(folder / "model.safetensors.index.json")) hfWeightMap(folder);  // checks it
    return architecture;
}

LlmWeights loadLlmLayers(const std::string& path, const std::vector<int>& layers) {
    const LlmArchitecture a = inspectLlm(path);
    std::vector<int> indices;
    for (int i : layers) {
        const int index = i < 0 ? a.layers + i : i;
        if (index < 0 || index >= a.layers)
            throw FileError(path, "has " + std::to_string(a.layers) + " layers; layer " +
                                      std::to_string(i) + " does not exist.");
        indices.push_back(index);
    }
    if (indices.empty()) throw Error("no LLM layer chosen");
    if (isHuggingFace(path)) return loadHuggingFace(path, indices);
    return isGgufFile(path) ? loadGguf(path, indices) : loadLlama2c(path, indices);
}

}  // namespace rllm
