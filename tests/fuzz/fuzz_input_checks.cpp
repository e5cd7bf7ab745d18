// The byte-level checks that stand before ITK, libpng, niftilib and GDCM,
// the Siemens CSA header parser (MOSAIC images), and the labels CSV of a
// folder of images compared as a cohort.
#include "core/CaseSource.h"
#include "core/Error.h"
#include "core/io/InputChecks.h"
#include "core/io/SiemensCsa.h"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    if (size < 1) return 0;
    const uint8_t* rest = data + 1;
    const size_t n = size - 1;
    try {
        switch (data[0] % 7) {
            case 0:
                checkPng("fuzz.png", rest, n);
                break;
            case 1: {
                const NiftiFacts facts = checkNiftiHeader("fuzz.nii", rest, n);
                checkNiftiData("fuzz.nii", facts, n);
                break;
            }
            case 2:
                checkMetaImageHeader("fuzz.mha", rest, n);
                break;
            case 3:
                if (n >= 3)
                    checkJpeg2000Frame("fuzz.dcm", rest + 3, n - 3, rest[0] + 1, rest[1] + 1,
                                       rest[2] % 4, 0);
                break;
            case 5: {
                const CsaHeader header = parseSiemensCsa(rest, n);
                csaNumbers(header, "NumberOfImagesInMosaic");
                csaNumbers(header, "SliceNormalVector");
                break;
            }
            case 6: {
                std::istringstream csv(std::string(reinterpret_cast<const char*>(rest), n));
                parseLabelsCsv(csv, "labels.csv", {"malignant", "normal, benign"});
                break;
            }
            default:
                toValidUtf8(std::string(reinterpret_cast<const char*>(rest), n));
        }
    } catch (const Error&) {
    }
    return 0;
}
