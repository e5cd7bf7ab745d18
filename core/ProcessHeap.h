#pragma once
// How the process's heap treats large freed blocks.
//
// A training step at 64³ allocates and frees tensors of 30-140 MB (an LLM
// block's attention scores over 513 tokens are 135 MB a batch of 16). glibc's
// malloc serves every block above its mmap threshold, which it never raises
// past 32 MB, with a fresh mmap and unmaps it again on free, so every step
// faults its largest activations in anew, page by page, and the kernel zeroes
// each page first. KeepFreed makes malloc take every block from the heap and
// never give freed memory back to the kernel, so the next step reuses the same
// pages: faster, at the price of a peak resident size that stays high (the
// heap keeps what the largest step used, and some of it fragmented).
// docs/commands.md ("Memory") has the measured trade.

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
