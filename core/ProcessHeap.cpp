#include "core/ProcessHeap.h"

#include "core/Error.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// Sanitizers bring their own malloc; glibc's settings would not reach it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RLLM_FOREIGN_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define RLLM_FOREIGN_MALLOC 1
#endif
#endif

namespace rllm {

namespace {
// glibc's documented defaults (mallopt(3)), restored when going back to System.
constexpr int kGlibcMmapMax = 65536;
constexpr int kGlibcTrimThreshold = 128 * 1024;
bool changedFromSystem = false;
}  // namespace

HeapPolicy parseHeapPolicy(const std::string& name) {
    if (name == "system") return HeapPolicy::System;
    if (name == "keep") return HeapPolicy::KeepFreed;
    throw Error("RLLM_MALLOC='" + name +
                "' is not a heap policy: use 'keep' (reuse freed memory, the default) or "
                "'system' (the C library's own)");
}

std::string heapPolicyName(HeapPolicy policy) {
    return policy == HeapPolicy::KeepFreed ? "keep" : "system";
}

bool heapPolicyApplies() {
#if defined(__GLIBC__) && !defined(RLLM_FOREIGN_MALLOC)
    return true;
#else
    return false;
#endif
}

void applyHeapPolicy(HeapPolicy policy) {
#if defined(__GLIBC__) && !defined(RLLM_FOREIGN_MALLOC)
    if (policy == HeapPolicy::KeepFreed) {
        // No block of any size from mmap (a thread's arena that cannot hold
        // one falls back to the main heap), and the heap's free top is never
        // returned to the kernel.
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, -1);
        changedFromSystem = true;
    } else if (changedFromSystem) {
        mallopt(M_MMAP_MAX, kGlibcMmapMax);
        mallopt(M_TRIM_THRESHOLD, kGlibcTrimThreshold);
        malloc_trim(0);
        changedFromSystem = false;
    }
#else
    (void)policy;
#endif
}

HeapPolicy heapPolicyFromEnvironment() {
    const char* name = std::getenv("RLLM_MALLOC");
    return name && *name ? parseHeapPolicy(name) : HeapPolicy::KeepFreed;
}

}  // namespace rllm
