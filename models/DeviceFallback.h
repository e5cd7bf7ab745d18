#pragma once
// What happens when CUDA runs out of memory: a model that answers one case
// at a time (the viewer, predict, cam) moves to the CPU and answers there,
// and says so; a training run stops with advice instead (a run silently 50x
// slower is not what its user asked for). Kept apart so that the policy is
// tested by injecting the error, on machines without a GPU.
//
// Internal to the models layer (LibTorch types).

#include "core/Error.h"

#include <c10/util/Exception.h>

#include <string>

namespace rllm {

// CUDA's caching allocator throws c10::OutOfMemoryError; cuBLAS and cuDNN
// report a failed workspace allocation as a plain error with their status.
inline bool isCudaOutOfMemory(const c10::Error& e) {
    if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return true;
    const std::string what = e.what();
    return what.find("CUDA out of memory") != std::string::npos ||
           what.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos ||
           what.find("CUDNN_STATUS_ALLOC_FAILED") != std::string::npos;
}

// Runs `job`. When it fails with CUDA's out-of-memory error and `onCuda`,
// calls `toCpu(reason)` (which moves the model) and runs `job` once more:
// the job must take its device from the model, not capture it. Any other
// LibTorch error becomes an Error with LibTorch's message.
template <class Job, class ToCpu>
auto runFallingBackToCpu(bool onCuda, const std::string& deviceName, Job&& job, ToCpu&& toCpu) {
    try {
        return job();
    } catch (const c10::Error& e) {
        if (!onCuda || !isCudaOutOfMemory(e)) throw Error(e.what_without_backtrace());
        toCpu("CUDA ran out of memory on " + deviceName + "; now running on the CPU");
        return job();
    }
}

}  // namespace rllm
