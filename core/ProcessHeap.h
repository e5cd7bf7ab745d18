#pragma once
// How the process's heap treats large freed blocks.
//
// A training step at 64³ allocates and frees tens of MB per tensor and
// hundreds of MB in all (at batch 16 a ViT block's MLP activations alone are
// 25 MB). Left to themselves both allocators this project meets hand such
// blocks back to the kernel as soon as they are freed: glibc's malloc serves
// each block above its mmap threshold (which rises with the blocks freed, to
// at most 32 MB) with a fresh mmap and unmaps it on free, and jemalloc purges
// its arena for blocks of 8 MB and more at once. So each step faulted its
// memory in anew, page by page, each page zeroed by the kernel first.
// KeepFreed keeps freed pages in the process for the next step to reuse:
// faster, at the price of a peak resident size that stays high. With glibc
// the kept heap also fragments (a third to a half more peak memory at 64³);
// on jemalloc, whose size classes fragment far less, keeping costs about a
// tenth, which is why `rllm` links it (app/CMakeLists.txt).
// docs/results.md ("Training at 64³") has the measured trade.

#include <string>

namespace rllm {

enum class HeapPolicy {
    System,     // the allocator's own settings
    KeepFreed,  // freed pages stay with the process for reuse, never purged
};

// "system" or "keep"; anything else throws rllm::Error naming the value.
HeapPolicy parseHeapPolicy(const std::string& name);
std::string heapPolicyName(HeapPolicy policy);

// The malloc this process runs on, as applyHeapPolicy sees it.
enum class HeapAllocator {
    Glibc,     // glibc's own
    Jemalloc,  // jemalloc, found at run time by its control interface (mallctl)
    Foreign,   // another (a sanitizer's): the policy cannot reach it
};
HeapAllocator heapAllocator();
// For people: e.g. "jemalloc 5.3.0-0-g54eaed1d", "glibc 2.36", "a sanitizer's".
std::string heapAllocatorDescription();

// Whether applyHeapPolicy has an effect on this process's malloc.
bool heapPolicyApplies();

// Sets the process's malloc to `policy` (a no-op where heapPolicyApplies() is
// false). Call it early in main, before large allocations.
void applyHeapPolicy(HeapPolicy policy);

// The policy the command line uses: RLLM_MALLOC (system | keep), keep when
// unset. Throws rllm::Error for another value.
HeapPolicy heapPolicyFromEnvironment();

}  // namespace rllm
