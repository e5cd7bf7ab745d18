// rllm: the command-line face of R-LLM Viewer's engine.

#include "app/CliSupport.h"
#include "app/Commands.h"
#include "core/Error.h"
#include "core/ProcessHeap.h"

#include <functional>
#include <iostream>
#include <map>

namespace {

const char* kUsage = R"(Usage: rllm COMMAND [ARGS...]

Commands:
  info PATH      describe an image, DICOM folder or MedMNIST .npz archive
  convert IN OUT write the volume the viewer shows as NIfTI (check it against other tools)
  pacs           query, retrieve from and send to a PACS (echo, find, get, store, nodes)
  llm            inspect a pretrained LLM checkpoint or run its layers (info, run)
  train          train a ViT baseline or an R-LLM boosted ViT on MedMNIST
  eval           ACC and AUC of a bundle on a MedMNIST split
  predict        class probabilities of a bundle for one image
  compare        two bundles over a data set: ACC/AUC with CIs, paired tests, per case
  bundle         describe a model bundle (bundle info BUNDLE)
  cam            class activation map of one image, on its own voxel grid (NIfTI + PNG)
  cam-eval       faithfulness of the CAMs over a split (deletion, insertion, pointing game)
  cam-choose     record in a bundle the CAM that auto shows: the most faithful on real cases
  demo           make the synthetic demo datasets and train demo bundles

Run 'rllm COMMAND --help' for a command's options.
Exit status: 0 success, 1 runtime error (bad file, ...), 2 usage error.
Environment: RLLM_MALLOC=keep|system  keep (default): freed memory stays with
  the process for reuse (faster training); system: the allocator's own settings.
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace rllm::cli;
    const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands = {
        {"info", runInfo},
#ifdef RLLM_HAVE_MEDICAL_IO
        {"convert", runConvert},  {"pacs", runPacs},
#endif
#ifdef RLLM_HAVE_TORCH
        {"llm", runLlm},          {"train", runTrain},
        {"eval", runEval},        {"predict", runPredict},
        {"bundle", runBundle},    {"cam", runCam},
        {"cam-eval", runCamEval}, {"demo", runDemo},
        {"compare", runCompare},  {"cam-choose", runCamChoose},
#endif
    };
    if (argc < 2) {
        std::cerr << kUsage;
        return kUsageError;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        std::cout << kUsage << "This build's malloc: " << rllm::heapAllocatorDescription() << "\n";
        return kOk;
    }
    auto command = commands.find(name);
    if (command == commands.end()) {
        std::cerr << "rllm: unknown command '" << name << "'\n\n" << kUsage;
        return kUsageError;
    }
    try {
        // Training and evaluation free and reallocate their largest tensors
        // every step; keep those pages for reuse (core/ProcessHeap.h says why).
        rllm::applyHeapPolicy(rllm::heapPolicyFromEnvironment());
    } catch (const rllm::Error& e) {
        std::cerr << "rllm: " << e.what() << "\n";
        return kUsageError;
    }
    try {
        return command->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const UsageError& e) {
        std::cerr << "rllm " << name << ": " << e.what() << "\n";
        return kUsageError;
    } catch (const std::bad_alloc&) {
        std::cerr << "rllm " << name << ": error: out of memory.\n";
        return kRuntimeError;
    } catch (const std::exception& e) {
        std::cerr << "rllm " << name << ": error: " << e.what() << "\n";
        return kRuntimeError;
    }
}
