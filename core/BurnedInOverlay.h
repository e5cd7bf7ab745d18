#pragma once
// A CAM burned into its image: every voxel in grey (the image through a
// window) with the CAM's colour blended over it, as one RGB volume on the
// image's grid. What goes to a PACS as a Secondary Capture, where other
// viewers show it as it is.

#include "core/Colormap.h"
#include "core/Volume.h"

namespace rllm {

// One pixel: `grey` with the CAM value `t` (0..1) blended in, its opacity
// rising with t (0 at 0, 0.5 from 0.5 up). The command line's overlay PNG
// and burnInCam draw with it.
std::array<uint8_t, 3> camOverGrey(uint8_t grey, float t, HeatColormap colormap);

// `cam` must be on `image`'s grid with values in 0..1. The colour's opacity
// grows with the CAM value (0 where the CAM is 0, 0.5 from 0.5 up), as the
// viewer draws it.
Volume burnInCam(const Volume& image, const Volume& cam, HeatColormap colormap,
                 const WindowPreset& window);

}  // namespace rllm
