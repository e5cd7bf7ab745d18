#include "models/DataParallel.h"

#include "core/Error.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

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

struct DataParallelGroup::Impl {
    DistributedOptions options;
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

    // Runs one collective; a peer that died or stopped answering becomes an
    // Error that says what to do, instead of a hang or a Gloo trace.
    template <class Collective>
    void run(const char* what, Collective&& collective) {
        try {
            collective()->wait(std::chrono::seconds(options.timeoutSeconds));
        } catch (const std::exception& e) {
            throw Error(std::string("data-parallel ") + what + " failed on worker " +
                        std::to_string(options.rank) + " of " + std::to_string(options.worldSize) +
                        ": another worker stopped or did not answer within " +
                        std::to_string(options.timeoutSeconds) + " s (" + e.what() +
                        "). The run stops; continue it from its last checkpoint with --resume "
                        "BUNDLE.checkpoint.safetensors, at any number of workers.");
        }
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
    impl_->options = options;
    const auto timeout = std::chrono::milliseconds(int64_t(options.timeoutSeconds) * 1000);
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
        impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options.rank,
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

// Gloo reduces CPU tensors; CUDA values travel through a CPU copy.
void DataParallelGroup::broadcastFromLeader(const std::vector<torch::Tensor>& tensors) {
    torch::NoGradGuard noGrad;
    for (const torch::Tensor& t : tensors) {
        std::vector<torch::Tensor> buffer{t.detach().to(torch::kCPU).contiguous()};
        impl_->run("broadcast", [&] { return impl_->group->broadcast(buffer); });
        t.copy_(buffer[0]);
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
    std::vector<torch::Tensor> flat{torch::cat(grads).to(torch::kCPU)};
    impl_->run("gradient sum", [&] { return impl_->group->allreduce(flat); });
    const torch::Tensor summed = flat[0].to(grads.front().device());
    int64_t offset = 0;
    for (const torch::Tensor& p : parameters) {
        if (!p.requires_grad()) continue;
        const int64_t n = p.numel();
        p.mutable_grad().copy_(summed.narrow(0, offset, n).view_as(p));
        offset += n;
    }
}

double DataParallelGroup::sum(double value) {
    std::vector<torch::Tensor> buffer{torch::full({1}, value, torch::kFloat64)};
    impl_->run("sum", [&] { return impl_->group->allreduce(buffer); });
    return buffer[0].item<double>();
}

torch::Tensor DataParallelGroup::gatherRows(const torch::Tensor& local) {
    std::vector<torch::Tensor> input{local.to(torch::kCPU).contiguous()};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (int r = 0; r < size(); ++r) output[0].push_back(torch::empty_like(input[0]));
    impl_->run("gather", [&] { return impl_->group->allgather(output, input); });
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
    impl_->run("barrier", [&] { return impl_->group->barrier(); });
}

RankShard shardOf(int64_t n, int rank, int size) {
    const int64_t chunk = (n + size - 1) / size;
    RankShard s;
    s.start = std::min(n, chunk * rank);
    s.count = std::min(n, s.start + chunk) - s.start;
    return s;
}

}  // namespace rllm
