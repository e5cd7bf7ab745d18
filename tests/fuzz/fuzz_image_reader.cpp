// The whole reading path of an image file, ITK and DCMTK included: the
// first byte picks the file name's extension (and so the reader).
#include "FuzzInput.h"

#include "core/Error.h"
#include "core/io/ImageReader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    if (size < 1) return 0;
    const char* names[] = {"input.png",  "input.nii", "input.nii.gz", "input.mha",
                           "input.nrrd", "input.dcm", "input.tif",    "input.jpg"};
    const std::string path = fuzz::writeInput(names[data[0] % 8], data + 1, size - 1);
    try {
        readImage(path);
    } catch (const Error&) {
    }
    return 0;
}
