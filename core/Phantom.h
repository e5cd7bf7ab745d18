#pragma once
// Synthetic phantoms the project generates itself for the embedded demo and
// for tests: a body ellipse in CT-like units with one round lesion at a known
// position, brightest at its centre. They are labelled synthetic; they are
// not patient data.

#include "core/Volume.h"

#include <array>
#include <cstdint>

namespace rllm {

struct Phantom {
    Volume image;       // Hounsfield-like units: air -1000, tissue ~40, lesion 220 -> 100
    Volume lesionMask;  // 1 inside the lesion, 0 elsewhere, same grid as image
    std::array<double, 3> lesionCenter{0, 0, 0};  // voxel index
    double lesionRadius = 0;                      // voxels
};

struct PhantomOptions {
    int size = 64;  // pixels per side (square in 2D, cubic in 3D)
    bool volumetric = true;
    bool lesion = true;          // false: the same body without a lesion (an empty mask)
    double lesionRadius = 0.08;  // as a fraction of the side
    uint32_t seed = 1;           // drives the noise and the lesion position
};

Phantom makePhantom(const PhantomOptions& options);
// Shorthands with a lesion: `size` pixels square (2D) or cubed (3D).
Phantom makePhantom2D(int size = 128, uint32_t seed = 1);
Phantom makePhantom3D(int size = 64, uint32_t seed = 1);

}  // namespace rllm
