#pragma once
// Helpers shared by the commands that run models: the device options every
// such command takes, and reading the image a command explains or predicts.

#include "app/CliSupport.h"
#include "models/Engine.h"

namespace rllm {
class Volume;
}

namespace rllm::cli {

// --device auto|cpu|cuda[:N] and --threads T.
DeviceOptions deviceOptions(const ParsedArgs& args);

// --split as given (default test), refused unless train, val or test.
std::string splitOption(const ParsedArgs& args);

// Any image the core reads, or case --split/--index (default test 0) of an .npz;
// --series UID picks a series of a DICOM folder.
Volume readInputVolume(const ParsedArgs& args, const std::string& input);

}  // namespace rllm::cli
