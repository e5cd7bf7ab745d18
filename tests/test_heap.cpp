// The heap policy (core/ProcessHeap.h) on the malloc this executable runs on.
// CMake builds it twice: test_heap on glibc's malloc, and test_heap_jemalloc
// linked against jemalloc as `rllm` is. RLLM_EXPECTED_ALLOCATOR names the one
// each should find.

#include "core/Error.h"
#include "core/ProcessHeap.h"

#include <QtTest>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

using namespace rllm;

namespace {

// How much memory one page fault brings in, at least: a page, or a huge page
// (2 MB on x86-64) where the kernel gives them to every mapping.
size_t faultGranule() {
    std::ifstream setting("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string modes;
    std::getline(setting, modes);
    if (modes.find("[always]") != std::string::npos) return size_t(2) << 20;
    return size_t(sysconf(_SC_PAGESIZE));
}

// Page faults while a block of `bytes` is allocated, written and freed a
// second time, after a first round of the same: what a training step pays
// for its largest tensors when the heap hands their pages back in between.
long faultsOnSecondUse(size_t bytes) {
    auto round = [bytes] {
        char* block = static_cast<char*>(std::malloc(bytes));
        if (!block) return;
        std::memset(block, 1, bytes);
        // Keep the compiler from dropping the block: it is read through here.
        asm volatile("" : : "r"(block) : "memory");
        std::free(block);
    };
    round();
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    round();
    getrusage(RUSAGE_SELF, &after);
    return after.ru_minflt - before.ru_minflt;
}

}  // namespace

class TestHeap : public QObject {
    Q_OBJECT
  private slots:
    void theExpectedAllocatorServesThisProcess() {
        const std::string description = heapAllocatorDescription();
        qInfo("malloc: %s", description.c_str());
        if (heapAllocator() == HeapAllocator::Foreign)
            QSKIP("this build's malloc is another one (a sanitizer's?)");
        QVERIFY2(description.rfind(RLLM_EXPECTED_ALLOCATOR, 0) == 0, description.c_str());
        QVERIFY(heapPolicyApplies());
    }

    // A 64 MB block (16384 pages of 4 KB) used twice. Above glibc's highest
    // mmap threshold (32 MB) and jemalloc's threshold for its own arena of
    // large blocks (8 MB), so under either allocator's own settings the
    // second use faults every page in again; with KeepFreed it reuses the
    // first use's pages.
    // Both ways are measured in this process, so the test fails if keep
    // stops keeping or if the allocator's default stops being the problem
    // the policy was chosen for (then it is no longer worth its memory).
    void keepFreedHeapReusesLargeBlocksWithoutFaultingThemIn() {
        if (!heapPolicyApplies()) QSKIP("this build's malloc is another one (a sanitizer's?)");
        const size_t bytes = size_t(64) << 20;
        const long pages = long(bytes / faultGranule());
        applyHeapPolicy(HeapPolicy::System);
        const long systemFaults = faultsOnSecondUse(bytes);
        applyHeapPolicy(HeapPolicy::KeepFreed);
        const long keptFaults = faultsOnSecondUse(bytes);
        applyHeapPolicy(HeapPolicy::System);
        const long restoredFaults = faultsOnSecondUse(bytes);
        qInfo("second use of 64 MB: %ld faults (system), %ld (keep), %ld (system again); %ld pages",
              systemFaults, keptFaults, restoredFaults, pages);
        QVERIFY2(systemFaults > pages / 2,
                 "the allocator no longer hands a freed 64 MB block back");
        QVERIFY(keptFaults <= pages / 50);
        QVERIFY2(restoredFaults > pages / 2, "System did not put the allocator's settings back");
    }

    void heapPolicyNamesRoundTripAndUnknownOnesAreRefused() {
        for (auto policy : {HeapPolicy::System, HeapPolicy::KeepFreed})
            QCOMPARE(parseHeapPolicy(heapPolicyName(policy)), policy);
        try {
            parseHeapPolicy("tcmalloc");
            QFAIL("an unknown policy was accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("'tcmalloc'"));
        }
    }
};

QTEST_GUILESS_MAIN(TestHeap)
#include "test_heap.moc"
