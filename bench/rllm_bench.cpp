// rllm-bench: time the ViT baseline and the R-LLM booster in LibTorch (C++),
// forward at batch 1 and a full training step, at paper scale (ViT-S/16 at
// 224 px + one LLaMA-7B-shaped block: 4096 dim, 32 heads, 11008 FFN, random
// weights) and at the 28 px config (ViT-S/4 at 28 px + the same block).
// Also measures the machine's sgemm peak in the same run, the peak memory of
// the booster forward, and the time of a Grad-CAM (forward + backward + map)
// and an EigenCAM (forward + SVD) at the first block's norm. bench/run_bench.sh runs it beside
// PyTorch eager on the same weights and prints the ratios.
//
//   rllm-bench [--threads N] [--reps R] [--json OUT]
//              [--device cpu|cuda[:N]] [--batch B] [--llm-precision auto|fp32|bf16]
//              [--only KEY,...]        (e.g. paper_224_booster)
//   rllm-bench --kernels [--threads N] [--reps R] [--json OUT]
//              (the CPU's kernel choices alone: OpenBLAS against oneDNN for
//              the dense layers, multi-tensor against per-tensor AdamW)
//   rllm-bench --export-weights DIR     (writes the four models' weights, times nothing)
// On CUDA every timing ends with a device synchronisation; the memory
// figures stay the process's (host) RSS.

#include "models/Cam.h"
#include "models/MatrixProducts.h"
#include "models/Engine.h"
#include "models/ModelInput.h"
#include "models/MultiTensorAdamW.h"
#include "models/Networks.h"
#include "models/Safetensors.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>

using namespace rllm;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
    std::string name;
    VitConfig vit;
};

LlmArchitecture llama7bShape() {
    LlmArchitecture a;
    a.modelType = "llama";
    a.dim = 4096, a.heads = 32, a.kvHeads = 32, a.ffn = 11008, a.layers = 1, a.eps = 1e-5;
    return a;
}

// Set in main: on CUDA, work is only done once the device has finished it.
std::function<void()> deviceSync = [] {};

double medianMs(const std::function<void()>& work, int reps) {
    work();  // warm-up
    deviceSync();
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
        auto start = Clock::now();
        work();
        deviceSync();
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// A /proc/self/status field in MB: VmHWM (peak resident) or VmRSS (resident now).
double statusMb(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::stod(line.substr(field.size() + 1)) / 1024.0;
    return 0;
}
double peakRssMb() {
    return statusMb("VmHWM");
}

// Multiply-adds x 2 of one forward pass at batch 1 (matrix products only).
// `classTokenTail`: as the engine runs it by default (Networks.h, TailTokens),
// the last token-mixing layer computes the class token's row alone.
double forwardFlops(const VitConfig& c, bool booster, const LlmArchitecture& a,
                    bool classTokenTail) {
    const double T = c.patchCount() + 1, d = c.dim, P = double(c.channels) * c.patch * c.patch;
    // One ViT block whose queries, outputs and MLP cover `rows` rows.
    auto vitBlock = [&](double rows) {
        return 2 * rows * d * d + 2 * T * d * 2 * d  // q; k, v
               + 2 * 2 * rows * T * d                // scores, values
               + 2 * rows * d * d                    // proj
               + 2 * 2 * rows * d * c.mlpRatio * d;  // MLP
    };
    const double tailRows = classTokenTail ? 1 : T;
    double flops = 2 * c.patchCount() * P * d;  // patch embedding
    flops += (c.depth - 1) * vitBlock(T) + vitBlock(booster ? T : tailRows);
    flops += 2 * d * c.classes;
    if (booster) {
        const double D = a.dim, kv = D / a.heads * a.kvHeads, F = a.ffn;
        flops += 2 * T * d * D + 2 * tailRows * D * d;  // F_E (every token), F_D
        flops += 2 * tailRows * D * D * 2 + 2 * 2 * T * D * kv +
                 2 * 2 * tailRows * T * D;  // q, o; k, v; scores, values
        flops += 3 * 2 * tailRows * D * F;  // SwiGLU
    }
    return flops;
}

void exportWeights(Classifier& model, const std::string& path) {
    std::vector<NamedTensor> tensors;
    for (const auto& p : model->named_parameters()) {
        torch::Tensor t = p.value().detach().contiguous();
        tensors.push_back(
            {p.key(), t.sizes().vec(),
             std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())});
    }
    writeSafetensors(path, tensors, {});
}

// What inference fuses (MatrixProducts.h) against the same work step by
// step, as the engine ran it before (the products still oneDNN's), at a
// ViT-S block's shapes: the attention after the q/k/v projection, fc1 with
// its GELU, fc2 with the residual addition.
void benchInferenceFusion(int reps, nlohmann::json& report) {
    std::cout << "\ninference, fused against step by step (oneDNN products both), median of "
              << reps * 20
              << "\n| tokens | step | step by step ms | fused ms | fused / step by step "
              << "|\n|---|---|---|---|---|\n";
    const int64_t C = 384, H = 6, hd = C / H;
    for (int64_t T : {50, 197}) {
        auto parts = torch::randn({1, T, 3, H, hd}).permute({2, 0, 3, 1, 4});
        auto q = parts[0], k = parts[1], v = parts[2];
        auto x = torch::randn({1, T, C}), hidden = torch::randn({1, T, 4 * C});
        auto w1 = torch::randn({4 * C, C}), b1 = torch::randn({4 * C});
        auto w2 = torch::randn({C, 4 * C}), b2 = torch::randn({C});
        DenseEpilogue gelu, residual;
        gelu.activation = DenseEpilogue::Activation::Gelu;
        residual.add = x;
        const double root = std::sqrt(double(hd));
        struct Step {
            const char* name;
            std::function<void()> stepByStep, fused;
        };
        for (const Step& step :
             {Step{"attention",
                   [&] {
                       batchedMatmul(
                           torch::softmax(batchedMatmul(q, k.transpose(-2, -1)) / root, -1), v)
                           .transpose(1, 2)
                           .reshape({1, T, C});
                   },
                   [&] { attention(q, k, v); }},
              Step{"fc1 + GELU", [&] { torch::gelu(denseLinear(x, w1, b1)); },
                   [&] { denseLinear(x, w1, b1, gelu); }},
              Step{"fc2 + residual", [&] { x + denseLinear(hidden, w2, b2); },
                   [&] { denseLinear(hidden, w2, b2, residual); }}}) {
            const double apart = medianMs(step.stepByStep, reps * 20);
            const double fused = medianMs(step.fused, reps * 20);
            std::cout << "| " << T << " | " << step.name << " | " << apart << " | " << fused
                      << " | " << std::setprecision(2) << fused / apart << std::setprecision(3)
                      << " |\n";
            report["inference_fusion"].push_back({{"tokens", T},
                                                  {"step", step.name},
                                                  {"step_by_step_ms", apart},
                                                  {"fused_ms", fused}});
        }
    }
}

// --kernels: the two CPU kernels this engine chooses between, each with
// its own thread split (setCpuThreads), on the same inputs. The dense
// layers' products at a ViT-S's and the 7B-shaped block's shapes, OpenBLAS
// (LibTorch's linear) against oneDNN (denseLinear); what inference fuses
// against the same steps apart; and one AdamW step over a ViT-S's
// parameters, multi-tensor against LibTorch's a tensor at a time.
int benchKernels(int threads, int reps, const std::string& jsonPath) {
    nlohmann::json report;
    report["threads"] = threads;
    report["reps"] = reps;
    auto useGemm = [&](CpuGemm gemm) {
        setCpuGemm(gemm);
        setCpuThreads(threads);
    };
    torch::NoGradGuard noGrad;
    std::cout << std::fixed << std::setprecision(3) << "dense layer products, " << threads
              << " threads, median of " << reps
              << " (rows x in -> out; ViT-S at 28 px: 50 rows, at 224 px: 197)\n"
              << "| rows | in | out | OpenBLAS ms | oneDNN ms | oneDNN / OpenBLAS "
                 "|\n|---|---|---|---|---|---|\n";
    struct Shape {
        int64_t rows, in, out;
    };
    for (const Shape& s :
         {Shape{50, 384, 1152}, Shape{50, 384, 384}, Shape{50, 384, 1536}, Shape{50, 1536, 384},
          Shape{197, 384, 1152}, Shape{197, 384, 384}, Shape{197, 384, 1536}, Shape{197, 1536, 384},
          Shape{50, 4096, 11008}, Shape{197, 4096, 4096}, Shape{197, 4096, 11008}}) {
        auto x = torch::randn({1, s.rows, s.in}), w = torch::randn({s.out, s.in}),
             b = torch::randn({s.out});
        const int r = s.in * s.out > 10000000 ? std::max(3, reps / 4) : reps * 20;
        useGemm(CpuGemm::Blas);
        const double blas = medianMs([&] { denseLinear(x, w, b); }, r);
        double onednn = blas;
        if (oneDnnBuilt()) {
            useGemm(CpuGemm::OneDnn);
            onednn = medianMs([&] { denseLinear(x, w, b); }, r);
        }
        std::cout << "| " << s.rows << " | " << s.in << " | " << s.out << " | " << blas << " | "
                  << onednn << " | " << std::setprecision(2) << onednn / blas
                  << std::setprecision(3) << " |\n";
        report["dense"].push_back(
            {{"rows", s.rows},
             {"in", s.in},
             {"out", s.out},
             {"openblas_ms", blas},
             {"onednn_ms", oneDnnBuilt() ? nlohmann::json(onednn) : nullptr}});
    }
    if (oneDnnBuilt()) benchInferenceFusion(reps, report);
    // AdamW over a ViT-S/4's parameters with made-up gradients.
    VitConfig small = VitConfig::preset("small");
    small.imageSize = 28, small.patch = 4, small.channels = 1, small.classes = 2;
    Classifier model(small, nullptr);
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4));
    for (auto& p : model->parameters()) p.mutable_grad() = torch::randn_like(p);
    std::cout << "\nAdamW step over ViT-S/4's " << model->parameters().size()
              << " parameter tensors, median of " << reps << ":\n";
    for (CpuGemm gemm : {CpuGemm::Blas, CpuGemm::OneDnn}) {
        if (gemm == CpuGemm::OneDnn && !oneDnnBuilt()) continue;
        useGemm(gemm);  // the thread split that goes with it
        const double multi = medianMs([&] { stepAdamWMultiTensor(optimizer); }, reps);
        const double perTensor = medianMs([&] { optimizer.step(); }, reps);
        std::cout << "  threads as with " << cpuGemmName(gemm) << ": multi-tensor " << multi
                  << " ms, a tensor at a time " << perTensor << " ms\n";
        report["adamw"][cpuGemmName(gemm)] = {{"multi_tensor_ms", multi},
                                              {"per_tensor_ms", perTensor}};
    }
    if (!jsonPath.empty()) std::ofstream(jsonPath) << report.dump(2) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2, reps = 5;
    int64_t batch = 1;
    std::string exportDir, jsonPath, only;
    bool kernels = false;
    DeviceOptions deviceOptions;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--threads")
            threads = std::stoi(value());
        else if (a == "--reps")
            reps = std::stoi(value());
        else if (a == "--export-weights")
            exportDir = value();
        else if (a == "--json")
            jsonPath = value();
        else if (a == "--device")
            deviceOptions.device = value();
        else if (a == "--batch")
            batch = std::stoll(value());
        else if (a == "--llm-precision")
            deviceOptions.llmPrecision = value();
        else if (a == "--only")
            only = "," + value() + ",";
        else if (a == "--kernels")
            kernels = true;
        else {
            std::cerr << "usage: rllm-bench [--threads N] [--reps R] [--export-weights DIR] "
                         "[--json OUT] [--device D] [--batch B] [--llm-precision P] [--only K,...] "
                         "[--kernels]\n";
            return 2;
        }
    }
    deviceOptions.threads = threads;
    if (kernels) return benchKernels(threads, reps, jsonPath);
    const torch::Device device = torchDevice(deviceOptions);  // also the engine's thread split
    if (device.is_cuda()) deviceSync = [] { torch::cuda::synchronize(); };
    torch::manual_seed(0);
    nlohmann::json report;
    report["threads"] = threads;
    report["reps"] = reps;
    report["engine"] = "LibTorch C++";
    report["device"] = device.str();
    report["batch"] = batch;
    report["llm_precision"] = deviceOptions.llmPrecision;

    // sgemm peak of this machine, now: the better of LibTorch's product and
    // the dense layers' own (oneDNN on the CPU where built; with it LibTorch's
    // BLAS keeps one thread, see setCpuThreads).
    double peak = 0;
    for (int n : {1024, 2048}) {
        auto x = torch::randn({n, n}, device), y = torch::randn({n, n}, device);
        torch::NoGradGuard noGrad;
        const double mm = medianMs([&] { torch::mm(x, y); }, reps);
        const double dense = medianMs([&] { denseLinear(x, y, {}); }, reps);
        peak = std::max(peak, 2.0 * n * n * n / (std::min(mm, dense) * 1e6));
    }
    report["sgemm_peak_gflops"] = peak;
    report["cpu_gemm"] = cpuGemmName(cpuGemm());
    // What the process holds before any model: the LibTorch and OpenBLAS
    // runtime (code, thread buffers). The booster's peak is read against it too.
    const double runtimeRss = statusMb("VmRSS");
    report["rss_mb_before_models"] = runtimeRss;
    std::cout << std::fixed << std::setprecision(1) << "sgemm peak: " << peak << " GFLOP/s ("
              << threads << " threads; dense layers on the CPU: " << cpuGemmName(cpuGemm())
              << ")\n";

    VitConfig paper = VitConfig::preset("small");
    paper.imageSize = 224, paper.patch = 16, paper.channels = 3, paper.classes = 2;
    VitConfig small = VitConfig::preset("small");
    small.imageSize = 28, small.patch = 4, small.channels = 1, small.classes = 2;
    const LlmArchitecture block = llama7bShape();

    for (const Config& config : {Config{"paper_224", paper}, Config{"28px", small}}) {
        const VitConfig& c = config.vit;
        for (bool boosted : {true, false}) {
            LlmBlock llm{nullptr};
            Booster booster{nullptr};
            if (boosted) {
                llm = LlmBlock(block, 1, FinalNorm::Unit);
                llm->randomize(1);
                booster = Booster(c.dim, block.dim, ResidualMode::In, llm);
            }
            Classifier model(c, booster);
            initialiseTrainable(*model, 2);
            const std::string key = config.name + (boosted ? "_booster" : "_baseline");
            if (!only.empty() && only.find("," + key + ",") == std::string::npos) continue;
            if (!exportDir.empty()) {  // weights for PyTorch eager only; no timing in this run
                exportWeights(model, exportDir + "/" + key + ".safetensors");
                continue;
            }
            int64_t parameters = 0;
            for (const auto& p : model->parameters()) parameters += p.numel();
            placeModel(*model, device, deviceOptions);
            auto image = torch::randn({batch, c.channels, c.imageSize, c.imageSize}).to(device);
            model->eval();
            // The engine's forward (class-token tail) and, like for like with
            // PyTorch eager's plain module, every token through every layer.
            const double forward = medianMs(
                [&] {
                    torch::NoGradGuard noGrad;
                    model->forward(image);
                },
                reps);
            // The peak as the engine runs the forward, before the every-token
            // one adds its 197-row activations of the 4096-wide block.
            const double rss = peakRssMb();
            const double forwardAll = medianMs(
                [&] {
                    torch::NoGradGuard noGrad;
                    model->forward(image, TailTokens::All);
                },
                reps);
            const double rssAll = peakRssMb();
            // CAMs as the engine computes them (models/Cam.h), at its default layer.
            auto camMs = [&](const std::string& method) {
                return medianMs(
                    [&] {
                        torch::Tensor captured;
                        TokenTap tap = [&](const std::string& name, const torch::Tensor& t) {
                            if (name != kDefaultCamLayer) return t;
                            captured = t;
                            return captured;
                        };
                        if (method == "eigencam") {
                            torch::NoGradGuard noGrad;
                            model->forward(image, tap);
                            auto tokens = captured[0].slice(0, 1);
                            tokenCam(method, tokens, tokens);
                            return;
                        }
                        auto logits = model->forward(image, tap);
                        auto gradient = torch::autograd::grad(
                            {logits[0][logits[0].argmax().item<int64_t>()]}, {captured})[0];
                        tokenCam(method, captured[0].slice(0, 1).detach(), gradient[0].slice(0, 1));
                    },
                    reps);
            };
            const double gradcam = camMs("gradcam"), eigencam = camMs("eigencam");
            std::vector<torch::Tensor> trainable;
            for (auto& p : model->parameters())
                if (p.requires_grad()) trainable.push_back(p);
            torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(1e-4));
            model->train();
            auto label = torch::zeros({batch}, torch::kInt64).to(device);
            // AdamW's update as training runs it (multi-tensor kernels on a
            // GPU, a tensor at a time on the CPU: stepAdamW).
            const double step = medianMs(
                [&] {
                    optimizer.zero_grad();
                    torch::cross_entropy_loss(model->forward(image), label).backward();
                    stepAdamW(optimizer);
                },
                reps);
            // Like for like with PyTorch eager's step: every token through the last layer.
            auto everyTokenStep = [&](bool asTraining) {
                return medianMs(
                    [&] {
                        optimizer.zero_grad();
                        torch::cross_entropy_loss(model->forward(image, TailTokens::All), label)
                            .backward();
                        if (asTraining)
                            stepAdamW(optimizer);
                        else
                            optimizer.step();
                    },
                    reps);
            };
            const double stepAll = everyTokenStep(true);
            // LibTorch's own AdamW, a tensor at a time: what the multi-tensor
            // step saves on a GPU. On the CPU training takes this step already
            // (stepAdamW), so timing it again would repeat stepAll.
            const nlohmann::json stepAllPerTensor =
                device.is_cuda() ? nlohmann::json(everyTokenStep(false)) : nlohmann::json();
            const double flops = batch * forwardFlops(c, boosted, block, true),
                         flopsAll = batch * forwardFlops(c, boosted, block, false);
            report[key] = {
                {"forward_ms", forward},
                {"forward_all_tokens_ms", forwardAll},
                {"gradcam_ms", gradcam},
                {"eigencam_ms", eigencam},
                {"train_step_ms", step},
                {"train_images_per_second", batch * 1000.0 / step},
                {"train_step_all_tokens_ms", stepAll},
                {"train_all_tokens_images_per_second", batch * 1000.0 / stepAll},
                {"train_step_all_tokens_per_tensor_adamw_ms", stepAllPerTensor},
                {"forward_gflops", flops / (forward * 1e6)},
                {"forward_all_tokens_gflops", flopsAll / (forwardAll * 1e6)},
                {"forward_all_tokens_fraction_of_sgemm_peak", flopsAll / (forwardAll * 1e6) / peak},
                {"parameters", parameters},
                {"weight_mb", parameters * 4 / 1048576.0},
                {"peak_rss_mb_after_forward", rss},
                {"peak_rss_mb_above_runtime", rss - runtimeRss},
                {"peak_rss_mb_after_all_tokens_forward", rssAll}};
            std::cout << std::setw(20) << std::left << key << " forward " << std::setw(8)
                      << std::right << forward << " ms (every token: " << forwardAll << " ms, "
                      << flopsAll / (forwardAll * 1e6) << " GFLOP/s, " << std::setprecision(0)
                      << 100 * flopsAll / (forwardAll * 1e6) / peak << "% of peak)"
                      << std::setprecision(1) << "  train step " << step << " ms  weights "
                      << parameters * 4 / 1048576.0 << " MB, peak RSS " << rss << " MB (" << rssAll
                      << " after the every-token forward)\n"
                      << std::setw(20) << ""
                      << " Grad-CAM " << gradcam << " ms (" << gradcam / forward
                      << "x forward), EigenCAM " << eigencam << " ms (" << eigencam / forward
                      << "x)\n";
        }
    }
    if (!exportDir.empty()) return 0;
    if (!jsonPath.empty()) std::ofstream(jsonPath) << report.dump(2) << "\n";
    return 0;
}
