// rllm convert: writes exactly the volume the viewer shows (values in
// modality units, e.g. HU; LPS geometry) as NIfTI, so that anyone can check
// what the tool read against another converter (tests compare with dcm2niix).

#include "app/CliSupport.h"
#include "app/Commands.h"
#include "core/Error.h"
#include "core/Volume.h"
#include "core/io/ImageReader.h"
#include "core/io/ItkIo.h"
#include "core/io/MedMnist.h"

#include <iostream>

namespace rllm::cli {

namespace {

const char* kUsage =
    "Usage: rllm convert INPUT OUT.nii[.gz] [--series UID] [--volume N] [--split S --index I]\n"
    "\n"
    "Reads INPUT as the viewer does (a DICOM file or folder, NIfTI, NRRD, MetaImage,\n"
    "PNG, TIFF, or one case of a MedMNIST .npz) and writes that volume as NIfTI:\n"
    "values in modality units (DICOM rescale applied, MONOCHROME1 inverted), the\n"
    "file's geometry (the NIfTI holds it in RAS, as the format wants). The output is\n"
    "written atomically; INPUT is never changed.\n"
    "  --series UID   the series of a DICOM folder that holds several\n"
    "  --volume N     the volume (from 1) of a 4D DICOM series (time, diffusion, echoes)\n"
    "  --split S --index I   the case of a MedMNIST archive (default test, 0)\n";

}  // namespace

int runConvert(const std::vector<std::string>& args) {
    const ParsedArgs parsed = parseArgs(args, {"help"}, {"series", "volume", "split", "index"});
    if (parsed.has("help")) {
        std::cout << kUsage;
        return kOk;
    }
    if (parsed.positional.size() != 2)
        throw UsageError(std::string("expected INPUT and OUT\n") + kUsage);
    const std::string& input = parsed.positional[0];
    const std::string& output = parsed.positional[1];
    ReadOptions options;
    options.seriesInstanceUid = parsed.get("series");
    options.volume = parsed.volumeIndex();
    options.split = parsed.get("split", "test");
    options.index = parsed.getInt("index", 0);
    const Volume volume = readImage(input, options);
    writeNifti(volume, output);
    const auto& size = volume.geometry().size;
    std::cerr << "rllm convert: wrote " << output << " (" << size[0] << " x " << size[1] << " x "
              << size[2] << ", " << volume.components() << " component(s))\n";
    return kOk;
}

}  // namespace rllm::cli
