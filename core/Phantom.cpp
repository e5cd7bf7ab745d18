#include "core/Phantom.h"

#include <cmath>
#include <random>
#include <string>

namespace rllm {
namespace {

Phantom buildPhantom(int size, int depth, uint32_t seed, bool withLesion, double radiusFraction) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 12.0f);
    Phantom phantom;
    const std::array<int64_t, 3> extent{size, size, depth};
    phantom.image = Volume(extent);
    phantom.lesionMask = Volume(extent);
    phantom.image.geometry().spacing = {0.8, 0.8, depth > 1 ? 0.8 : 1.0};
    phantom.lesionMask.geometry() = phantom.image.geometry();

    // Lesion somewhere inside the body, away from its border.
    std::uniform_real_distribution<double> where(0.35, 0.65);
    const double centreX = where(rng) * size, centreY = where(rng) * size;
    const double centreZ = depth > 1 ? where(rng) * depth : 0.0;
    const double radius = withLesion ? size * radiusFraction : 0.0;
    phantom.lesionCenter = {centreX, centreY, centreZ};
    phantom.lesionRadius = radius;

    const double half = size / 2.0, halfDepth = depth / 2.0;
    for (int64_t z = 0; z < depth; ++z) {
        for (int64_t y = 0; y < size; ++y) {
            for (int64_t x = 0; x < size; ++x) {
                // Body: an ellipsoid filling most of the field of view.
                double bx = (x + 0.5 - half) / (0.45 * size);
                double by = (y + 0.5 - half) / (0.38 * size);
                double bz = depth > 1 ? (z + 0.5 - halfDepth) / (0.45 * depth) : 0.0;
                double body = bx * bx + by * by + bz * bz;
                float value = -1000.0f;
                if (body <= 1.0) value = 40.0f + noise(rng);
                // A bright rim (bone-like) just inside the body surface.
                if (body <= 1.0 && body > 0.85) value = 400.0f + noise(rng);
                double dx = x - centreX, dy = y - centreY, dz = depth > 1 ? z - centreZ : 0.0;
                const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
                if (withLesion && r <= radius) {
                    // Graded like an enhancing nodule: 220 at the centre, 100
                    // at the edge. A flat lesion is invisible inside to the 3D
                    // ViT, whose patch embedding LayerNorms each patch
                    // (docs/method.md): a patch wholly inside it normalises to the
                    // same noise as one in tissue, so only the tokens on its
                    // boundary carried evidence and the CAMs peaked beside the
                    // lesion (docs/explanations.md).
                    const double u = r / radius;
                    value = float(100.0 + 120.0 * (1.0 - u * u)) + noise(rng);
                    phantom.lesionMask.at(x, y, z) = 1.0f;
                }
                phantom.image.at(x, y, z) = value;
            }
        }
    }
    for (Volume* v : {&phantom.image, &phantom.lesionMask}) {
        v->sourcePixelType = PixelType::Float32;
        v->formatName = "Synthetic phantom";
        v->synthetic = true;
        v->metadata["PatientName"] = "SYNTHETIC PHANTOM";
        v->metadata["SeriesDescription"] =
            std::string("Synthetic ") + (depth > 1 ? "3D" : "2D") +
            (withLesion ? " phantom with one lesion" : " phantom without lesion");
        v->metadata["Modality"] = "CT (simulated)";
    }
    phantom.image.windowPresets = {{"Soft tissue", 40, 400}};
    phantom.lesionMask.windowPresets = {{"Mask", 0.5, 1}};
    return phantom;
}

}  // namespace

Phantom makePhantom(const PhantomOptions& o) {
    return buildPhantom(o.size, o.volumetric ? o.size : 1, o.seed, o.lesion, o.lesionRadius);
}
Phantom makePhantom2D(int size, uint32_t seed) {
    return makePhantom({size, false, true, 0.08, seed});
}
Phantom makePhantom3D(int size, uint32_t seed) {
    return makePhantom({size, true, true, 0.08, seed});
}

}  // namespace rllm
