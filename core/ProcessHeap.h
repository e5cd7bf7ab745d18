#pragma once
// How the process's heap treats large freed blocks.
//
// A training step at 64³ allocates and frees tens of MB per tensor and
// hundreds of MB in all (at batch 16 a ViT block's MLP activations alone are
// 25 MB). glibc's malloc serves each block above its mmap threshold (which
// rises with the blocks freed, to at most 32 MB) with a fresh mmap and unmaps
// it on free, and it hands the free top of its heap back to the kernel once
// that exceeds twice the threshold. So each step faulted its memory in anew,
// page by page, each page zeroed by the kernel first. KeepFreed makes malloc
// take every block from the heap and never give freed memory back, so the
// next step reuses the same pages: faster, at the price of a peak resident
// size that stays high (the heap keeps what the largest step used, and some
// of it fragmented). docs/results.md ("Training at 64³") has the measured
// trade.

#include <string>

namespace rllm {

enum class HeapPolicy {
    System,     // the C library's own (glibc: mmap above the threshold, trim on free)
    KeepFreed,  // no mmap for large blocks, no trimming: freed pages stay for reuse
};

// "system" or "keep"; anything else throws rllm::Error naming the value.
HeapPolicy parseHeapPolicy(const std::string& name);
std::string heapPolicyName(HeapPolicy policy);

// Whether this process's malloc is glibc's own (not a sanitizer's or another
// allocator's), so that applyHeapPolicy has an effect.
bool heapPolicyApplies();

// Sets the process's malloc to `policy` (a no-op where heapPolicyApplies() is
// false). Call it early in main, before large allocations.
void applyHeapPolicy(HeapPolicy policy);

// The policy the command line uses: RLLM_MALLOC (system | keep), keep when
// unset. Throws rllm::Error for another value.
HeapPolicy heapPolicyFromEnvironment();

}  // namespace rllm
