#include "models/DataParallel.h"

#include "core/Error.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef RLLM_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>

namespace rllm {

namespace {

bool isLoopback(const std::string& address) {
    return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// The network device Gloo talks through. GLOO_SOCKET_IFNAME picks an
// interface as it does for PyTorch; a group on loopback stays on loopback;
// otherwise the address this machine's name resolves to.
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& masterAddr) {
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
        return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    if (isLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

// Whether this build can reduce CUDA tensors through NCCL (PyTorch's wheel
// can; Debian's CPU LibTorch cannot).
constexpr bool kHaveNccl =
#ifdef RLLM_HAVE_NCCL
    true;
#else
    false;
#endif

struct DataParallelGroup::Impl {
    DistributedOptions options;
    c10::intrusive_ptr<c10d::Store> store;
    // CPU tensors, and CUDA ones through a CPU copy where NCCL is not used.
    c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef RLLM_HAVE_NCCL
    // CUDA tensors, GPU to GPU. Made at the first CUDA collective, which
    // every rank reaches at the same point: constructing it needs a GPU, and
    // a CPU run (or compare's gathers of CPU rows) must not need one.
    c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

    std::chrono::milliseconds timeout() const {
        return std::chrono::milliseconds(int64_t(options.timeoutSeconds) * 1000);
    }

    // Whether `t`'s collectives go through NCCL; makes the NCCL group the first time.
    bool throughNccl(const torch::Tensor& t) {
        if (!t.is_cuda() || options.backend == "gloo") return false;
#ifdef RLLM_HAVE_NCCL
        if (!nccl) {
            auto ncclOptions = c10d::ProcessGroupNCCL::Options::create();
            ncclOptions->timeout = timeout();
            // Its own key space in the store, as PyTorch gives each backend.
            auto prefixed = c10::make_intrusive<c10d::PrefixStore>("nccl", store);
            try {
                nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, options.rank,
                                                                   options.worldSize, ncclOptions);
                nccl->setBoundDeviceId(t.device());
            } catch (const std::exception& e) {
                throw Error("worker " + std::to_string(options.rank) + " of " +
                            std::to_string(options.worldSize) + " could not start NCCL on " +
                            t.device().str() + " (" + e.what() +
                            "). Each worker needs its own GPU; --dist-backend gloo reduces "
                            "through the CPU instead.");
            }
        }
        return true;
#else
        return false;
#endif
    }

    // Runs one collective; a peer that died or stopped answering becomes an
    // Error that says what to do, instead of a hang or a Gloo trace.
    template <class Collective>
    void run(const char* what, Collective&& collective) {
        try {
            collective()->wait(timeout());
        } catch (const std::exception& e) {
            throw Error(std::string("data-parallel ") + what + " failed on worker " +
                        std::to_string(options.rank) + " of " + std::to_string(options.worldSize) +
                        ": another worker stopped or did not answer within " +
                        std::to_string(options.timeoutSeconds) + " s (" + e.what() +
                        "). The run stops; continue it from its last checkpoint with --resume "
                        "BUNDLE.checkpoint.safetensors, at any number of workers.");
        }
    }

    // One collective on `buffer` (one tensor): NCCL on the GPU where it
    // applies, otherwise Gloo on a CPU copy. The result is left in `t`.
    template <class Collective>
    void onDeviceOrCpu(const char* what, torch::Tensor& t, Collective&& collective) {
#ifdef RLLM_HAVE_NCCL
        if (throughNccl(t)) {
            std::vector<torch::Tensor> buffer{t};
            run(what, [&] { return collective(*nccl, buffer); });
            return;
        }
#endif
        std::vector<torch::Tensor> buffer{t.to(torch::kCPU).contiguous()};
        run(what, [&] { return collective(*gloo, buffer); });
        if (!buffer[0].is_same(t)) t.copy_(buffer[0]);
    }
};

DataParallelGroup::DataParallelGroup(const DistributedOptions& options)
    : impl_(std::make_unique<Impl>()) {
    if (options.worldSize < 2) throw Error("a data-parallel group needs at least two workers");
    if (options.rank < 0 || options.rank >= options.worldSize)
        throw Error("RANK " + std::to_string(options.rank) + " is outside WORLD_SIZE " +
                    std::to_string(options.worldSize));
    if (options.masterPort <= 0 || options.masterPort > 65535)
        throw Error("MASTER_PORT " + std::to_string(options.masterPort) + " is not a port");
    if (options.timeoutSeconds <= 0) throw Error("the worker time-out must be positive");
    if (options.backend != "auto" && options.backend != "gloo" && options.backend != "nccl")
        throw Error("--dist-backend must be auto, gloo or nccl, not '" + options.backend + "'");
    if (options.backend == "nccl" && !kHaveNccl)
        throw Error(
            "--dist-backend nccl: this LibTorch has no NCCL (Debian's is built for the CPU "
            "only); build against PyTorch's wheel (scripts/build --torch=wheel) or use gloo");
    impl_->options = options;
    const auto timeout = impl_->timeout();
    const std::string where = options.masterAddr + ":" + std::to_string(options.masterPort);
    try {
        c10d::TCPStoreOptions storeOptions;
        storeOptions.port = static_cast<std::uint16_t>(options.masterPort);
        storeOptions.isServer = options.rank == 0;
        storeOptions.numWorkers = static_cast<std::size_t>(options.worldSize);
        storeOptions.waitWorkers = true;
        storeOptions.timeout = timeout;
        impl_->store = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, storeOptions);
        auto glooOptions = c10d::ProcessGroupGloo::Options::create(timeout);
        glooOptions->devices.push_back(glooDevice(options.masterAddr));
        impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
            c10::make_intrusive<c10d::PrefixStore>("gloo", impl_->store), options.rank,
            options.worldSize, glooOptions);
    } catch (const std::exception& e) {
        throw Error("worker " + std::to_string(options.rank) + " of " +
                    std::to_string(options.worldSize) + " could not join the group at " + where +
                    " within " + std::to_string(options.timeoutSeconds) + " s (" + e.what() +
                    "). Check MASTER_ADDR and MASTER_PORT, that every worker was started and "
                    "that the port is free on rank 0's machine.");
    }
}

DataParallelGroup::~DataParallelGroup() = default;

int DataParallelGroup::rank() const {
    return impl_->options.rank;
}

int DataParallelGroup::size() const {
    return impl_->options.worldSize;
}

void DataParallelGroup::broadcastFromLeader(const std::vector<torch::Tensor>& tensors) {
    torch::NoGradGuard noGrad;
    for (const torch::Tensor& t : tensors) {
        torch::Tensor target = t.detach();
        impl_->onDeviceOrCpu("broadcast", target,
                             [](auto& group, std::vector<torch::Tensor>& buffer) {
                                 return group.broadcast(buffer);
                             });
    }
}

void DataParallelGroup::sumGradients(const std::vector<torch::Tensor>& parameters) {
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> grads;
    for (const torch::Tensor& p : parameters) {
        if (!p.requires_grad()) continue;
        // A rank whose share of a batch was empty has no gradients: it adds zeros.
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad().reshape({-1}));
    }
    if (grads.empty()) return;
    torch::Tensor flat = torch::cat(grads);
    impl_->onDeviceOrCpu("gradient sum", flat, [](auto& group, std::vector<torch::Tensor>& buffer) {
        return group.allreduce(buffer);
    });
    int64_t offset = 0;
    for (const torch::Tensor& p : parameters) {
        if (!p.requires_grad()) continue;
        const int64_t n = p.numel();
        p.mutable_grad().copy_(flat.narrow(0, offset, n).view_as(p));
        offset += n;
    }
}

double DataParallelGroup::sum(double value) {
    std::vector<torch::Tensor> buffer{torch::full({1}, value, torch::kFloat64)};
    impl_->run("sum", [&] { return impl_->gloo->allreduce(buffer); });
    return buffer[0].item<double>();
}

torch::Tensor DataParallelGroup::gatherRows(const torch::Tensor& local) {
    std::vector<torch::Tensor> input{local.to(torch::kCPU).contiguous()};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (int r = 0; r < size(); ++r) output[0].push_back(torch::empty_like(input[0]));
    impl_->run("gather", [&] { return impl_->gloo->allgather(output, input); });
    return torch::cat(output[0], 0);
}

std::vector<std::vector<float>> DataParallelGroup::gatherShards(
    const std::vector<std::vector<float>>& mine, int64_t n, int64_t columns) {
    const int64_t chunk = (n + size() - 1) / size();
    torch::Tensor packed = torch::zeros({chunk, columns});
    for (size_t i = 0; i < mine.size(); ++i) {
        if (static_cast<int64_t>(mine[i].size()) != columns)
            throw Error("gatherShards: a row has " + std::to_string(mine[i].size()) +
                        " values, not " + std::to_string(columns));
        std::copy(mine[i].begin(), mine[i].end(), packed[int64_t(i)].data_ptr<float>());
    }
    const torch::Tensor all = gatherRows(packed);
    std::vector<std::vector<float>> rows;
    for (int r = 0; r < size(); ++r) {
        const RankShard theirs = shardOf(n, r, size());
        for (int64_t i = 0; i < theirs.count; ++i) {
            const float* row = all[r * chunk + i].data_ptr<float>();
            rows.emplace_back(row, row + columns);
        }
    }
    return rows;
}

std::shared_ptr<DataParallelGroup> joinDataParallelGroup(const DistributedOptions& options) {
    if (options.worldSize <= 1) return nullptr;
    return std::make_shared<DataParallelGroup>(options);
}

bool isLeader(const DataParallelGroup* group) {
    return !group || group->isLeader();
}

void DataParallelGroup::barrier() {
    impl_->run("barrier", [&] { return impl_->gloo->barrier(); });
}

RankShard shardOf(int64_t n, int rank, int size) {
    const int64_t chunk = (n + size - 1) / size;
    RankShard s;
    s.start = std::min(n, chunk * rank);
    s.count = std::min(n, s.start + chunk) - s.start;
    return s;
}

}  // namespace rllm
