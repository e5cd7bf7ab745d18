#include "app/ModelCliSupport.h"

#include "core/Error.h"
#include "core/Volume.h"
#include "core/io/MedMnist.h"
#ifdef RLLM_HAVE_MEDICAL_IO
#include "core/io/ImageReader.h"
#endif

namespace rllm::cli {

DeviceOptions deviceOptions(const ParsedArgs& args) {
    DeviceOptions d;
    d.device = args.get("device", "auto");
    d.threads = static_cast<int>(args.getInt("threads", 0));
    d.llmPrecision = args.get("llm-precision", "auto");
    d.deterministic = args.has("deterministic");
    return d;
}

std::string splitOption(const ParsedArgs& args) {
    const std::string split = args.get("split", "test");
    if (split != "train" && split != "val" && split != "test")
        throw UsageError("--split must be train, val or test, not '" + split + "'");
    return split;
}

Volume readInputVolume(const ParsedArgs& args, const std::string& input) {
    if (input.size() > 4 && input.compare(input.size() - 4, 4, ".npz") == 0)
        return MedMnistDataset(input).image(args.get("split", "test"), args.getInt("index", 0));
#ifdef RLLM_HAVE_MEDICAL_IO
    ReadOptions options;
    options.seriesInstanceUid = args.get("series");
    options.volume = args.volumeIndex();
    return readImage(input, options);
#else
    throw FileError(
        input, "can only be read by a build with DICOM/ITK support (RLLM_WITH_MEDICAL_IO=ON).");
#endif
}

}  // namespace rllm::cli
