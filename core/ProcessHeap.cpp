#include "core/ProcessHeap.h"

#include "core/Error.h"

#include <dlfcn.h>
#include <sys/types.h>

#include <cstdlib>
#include <map>
#include <optional>

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#include <malloc.h>
#endif

// Sanitizers bring their own malloc; neither allocator's settings would reach it.
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

// jemalloc's control interface: read and/or write one named setting.
using Mallctl = int (*)(const char* name, void* oldValue, size_t* oldSize, void* newValue,
                        size_t newSize);

// Whether the library that defines `control` is also the one whose malloc
// this process calls: a library may pull jemalloc in while glibc's malloc,
// earlier in the lookup order, still serves every allocation.
bool servesMalloc(Mallctl control) {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(control), &info) || !info.dli_fname) return false;
    void* library = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!library) return false;
    const bool same = dlsym(library, "malloc") == dlsym(RTLD_DEFAULT, "malloc");
    dlclose(library);
    return same;
}

// jemalloc's mallctl where jemalloc is this process's malloc, else null.
// Looked up at run time rather than linked: core serves programs that link
// jemalloc (rllm) and programs that do not (the viewer, the tests).
Mallctl jemallocControl() {
    static const Mallctl control = [] {
        auto found = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
        return found && servesMalloc(found) ? found : nullptr;
    }();
    return control;
}

// How long (ms) jemalloc lets freed pages sit before handing them back:
// "dirty" ones first, then "muzzy" ones (madvise'd free); -1 is never.
struct DecayTimes {
    ssize_t dirty = 0, muzzy = 0;
};

// `scope` is "arenas" (the default of arenas made from now on) or
// "arena.<i>" (one arena). An arena not yet made refuses both.
bool readDecay(Mallctl control, const std::string& scope, DecayTimes& times) {
    size_t size = sizeof(ssize_t);
    if (control((scope + ".dirty_decay_ms").c_str(), &times.dirty, &size, nullptr, 0) != 0)
        return false;
    size = sizeof(ssize_t);
    return control((scope + ".muzzy_decay_ms").c_str(), &times.muzzy, &size, nullptr, 0) == 0;
}

void writeDecay(Mallctl control, const std::string& scope, DecayTimes times) {
    control((scope + ".dirty_decay_ms").c_str(), nullptr, nullptr, &times.dirty, sizeof(ssize_t));
    control((scope + ".muzzy_decay_ms").c_str(), nullptr, nullptr, &times.muzzy, sizeof(ssize_t));
}

unsigned arenaCount(Mallctl control) {
    unsigned count = 0;
    size_t size = sizeof count;
    return control("arenas.narenas", &count, &size, nullptr, 0) == 0 ? count : 0;
}

std::string arenaScope(unsigned index) {
    return "arena." + std::to_string(index);
}

// What KeepFreed changed on jemalloc, for System to put back. Arenas keep
// their own times (jemalloc's arena for blocks of 8 MB and more purges at
// once), so each arena's are saved, not just the default.
struct SavedDecay {
    DecayTimes defaults;
    std::map<unsigned, DecayTimes> arenas;
};
std::optional<SavedDecay> savedDecay;

void keepOnJemalloc(Mallctl control) {
    const unsigned count = arenaCount(control);
    if (!savedDecay) {
        SavedDecay saved;
        if (!readDecay(control, "arenas", saved.defaults)) return;
        for (unsigned i = 0; i < count; ++i) {
            DecayTimes times;
            if (readDecay(control, arenaScope(i), times)) saved.arenas[i] = times;
        }
        savedDecay = saved;
    }
    const DecayTimes never{-1, -1};
    writeDecay(control, "arenas", never);  // the arenas made later, the large blocks' among them
    for (unsigned i = 0; i < count; ++i) writeDecay(control, arenaScope(i), never);
}

void systemOnJemalloc(Mallctl control) {
    if (!savedDecay) return;
    writeDecay(control, "arenas", savedDecay->defaults);
    const unsigned count = arenaCount(control);
    for (unsigned i = 0; i < count; ++i) {
        const auto saved = savedDecay->arenas.find(i);
        writeDecay(control, arenaScope(i),
                   saved != savedDecay->arenas.end() ? saved->second : savedDecay->defaults);
    }
    savedDecay.reset();
}

#if defined(__GLIBC__)
// glibc's documented defaults (mallopt(3)), restored when going back to System.
constexpr int kGlibcMmapMax = 65536;
constexpr int kGlibcTrimThreshold = 128 * 1024;
bool glibcChangedFromSystem = false;

void applyOnGlibc(HeapPolicy policy) {
    if (policy == HeapPolicy::KeepFreed) {
        // No block of any size from mmap (a thread's arena that cannot hold
        // one falls back to the main heap), and the heap's free top is never
        // returned to the kernel.
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, -1);
        glibcChangedFromSystem = true;
    } else if (glibcChangedFromSystem) {
        mallopt(M_MMAP_MAX, kGlibcMmapMax);
        mallopt(M_TRIM_THRESHOLD, kGlibcTrimThreshold);
        malloc_trim(0);
        glibcChangedFromSystem = false;
    }
}
#endif

}  // namespace

HeapPolicy parseHeapPolicy(const std::string& name) {
    if (name == "system") return HeapPolicy::System;
    if (name == "keep") return HeapPolicy::KeepFreed;
    throw Error("RLLM_MALLOC='" + name +
                "' is not a heap policy: use 'keep' (reuse freed memory, the default) or "
                "'system' (the allocator's own settings)");
}

std::string heapPolicyName(HeapPolicy policy) {
    return policy == HeapPolicy::KeepFreed ? "keep" : "system";
}

HeapAllocator heapAllocator() {
#if defined(RLLM_FOREIGN_MALLOC)
    return HeapAllocator::Foreign;
#else
    if (jemallocControl()) return HeapAllocator::Jemalloc;
#if defined(__GLIBC__)
    return HeapAllocator::Glibc;
#else
    return HeapAllocator::Foreign;
#endif
#endif
}

std::string heapAllocatorDescription() {
    switch (heapAllocator()) {
        case HeapAllocator::Jemalloc: {
            const char* version = nullptr;
            size_t size = sizeof version;
            if (jemallocControl()("version", &version, &size, nullptr, 0) == 0 && version)
                return std::string("jemalloc ") + version;
            return "jemalloc";
        }
        case HeapAllocator::Glibc:
#if defined(__GLIBC__)
            return std::string("glibc ") + gnu_get_libc_version();
#endif
        case HeapAllocator::Foreign:
            break;
    }
    return "another allocator (a sanitizer's?)";
}

bool heapPolicyApplies() {
    return heapAllocator() != HeapAllocator::Foreign;
}

void applyHeapPolicy(HeapPolicy policy) {
    switch (heapAllocator()) {
        case HeapAllocator::Jemalloc:
            if (policy == HeapPolicy::KeepFreed)
                keepOnJemalloc(jemallocControl());
            else
                systemOnJemalloc(jemallocControl());
            break;
        case HeapAllocator::Glibc:
#if defined(__GLIBC__)
            applyOnGlibc(policy);
#endif
            break;
        case HeapAllocator::Foreign:
            break;
    }
}

HeapPolicy heapPolicyFromEnvironment() {
    const char* name = std::getenv("RLLM_MALLOC");
    return name && *name ? parseHeapPolicy(name) : HeapPolicy::KeepFreed;
}

}  // namespace rllm
