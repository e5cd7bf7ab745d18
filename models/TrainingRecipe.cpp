// The training recipe's pieces: augmentation, mixing, class balance, loss, EMA.

#include "models/TrainingRecipe.h"

#include "core/Error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace rllm {

Augmentation parseAugmentation(const std::string& name) {
    if (name == "off") return Augmentation::Off;
    if (name == "light") return Augmentation::Light;
    if (name == "strong") return Augmentation::Strong;
    throw Error("--augment must be off, light or strong, not '" + name + "'");
}

std::string augmentationName(Augmentation a) {
    switch (a) {
        case Augmentation::Off:
            return "off";
        case Augmentation::Light:
            return "light";
        case Augmentation::Strong:
            return "strong";
    }
    return "?";
}

AugmentDraw AugmentDraw::select(const torch::Tensor& positions) const {
    AugmentDraw r;
    for (const auto& f : flips) r.flips.push_back(f.index_select(0, positions));
    if (affine.defined()) r.affine = affine.index_select(0, positions);
    if (intensity.defined()) r.intensity = intensity.index_select(0, positions);
    return r;
}

AugmentDraw drawAugmentation(int64_t batch, bool volumetric, Augmentation strength) {
    AugmentDraw d;
    if (strength == Augmentation::Off) return d;
    for (int axis = 0; axis < (volumetric ? 3 : 2); ++axis) d.flips.push_back(torch::rand({batch}));
    if (strength == Augmentation::Light) {
        // In the first recipe's order (angle, then shifts), so its runs repeat exactly.
        if (!volumetric)
            d.affine = torch::cat({torch::rand({batch, 1}), torch::rand({batch, 2})}, 1);
        return d;
    }
    d.affine = torch::rand({batch, 7});
    d.intensity = torch::rand({batch, 2});
    return d;
}

namespace {

torch::Tensor symmetric(const torch::Tensor& uniform, double halfWidth) {
    return (uniform * 2 - 1) * halfWidth;
}

// The rotation about one axis of a 3D point (x, y, z) as a (B, 3, 3) matrix.
torch::Tensor rotation(const torch::Tensor& angle, int axis) {
    auto c = torch::cos(angle), s = torch::sin(angle);
    auto one = torch::ones_like(angle), zero = torch::zeros_like(angle);
    std::vector<torch::Tensor> rows;
    switch (axis) {
        case 0:  // about x
            rows = {torch::stack({one, zero, zero}, 1), torch::stack({zero, c, -s}, 1),
                    torch::stack({zero, s, c}, 1)};
            break;
        case 1:  // about y
            rows = {torch::stack({c, zero, s}, 1), torch::stack({zero, one, zero}, 1),
                    torch::stack({-s, zero, c}, 1)};
            break;
        default:  // about z
            rows = {torch::stack({c, -s, zero}, 1), torch::stack({s, c, zero}, 1),
                    torch::stack({zero, zero, one}, 1)};
    }
    return torch::stack(rows, 1);
}

// `x` read at `grid` (grid_sample's layout and units), bilinear, border
// values repeated outside: the one resampling every geometric augmentation uses.
torch::Tensor sampleAt(const torch::Tensor& x, const torch::Tensor& grid) {
    namespace F = torch::nn::functional;
    return F::grid_sample(x, grid,
                          F::GridSampleFuncOptions()
                              .mode(torch::kBilinear)
                              .padding_mode(torch::kBorder)
                              .align_corners(false));
}

torch::Tensor resample(const torch::Tensor& x, const torch::Tensor& theta) {
    return sampleAt(x, torch::nn::functional::affine_grid(theta, x.sizes().vec(), false));
}

}  // namespace

torch::Tensor augment(torch::Tensor x, bool volumetric, Augmentation strength,
                      const AugmentDraw& draw) {
    if (strength == Augmentation::Off) return x;
    const int64_t B = x.size(0);
    const int spatial = volumetric ? 3 : 2;
    auto flip = [&](torch::Tensor t, int64_t dim, const torch::Tensor& uniform) {
        auto mask = (uniform < 0.5).to(t.device());
        std::vector<int64_t> shape(t.dim(), 1);
        shape[0] = B;
        return torch::where(mask.view(shape), t.flip({dim}), t);
    };
    // Axes in the first recipe's order, so its runs repeat exactly: in 2D
    // width then height, in 3D depth, height, width.
    for (int a = 0; a < spatial; ++a)
        x = flip(x, volumetric ? 2 + a : x.dim() - 1 - a, draw.flips[a]);
    if (strength == Augmentation::Light) {
        if (volumetric) return x;
        auto angle = symmetric(draw.affine.select(1, 0), 10.0 * M_PI / 180.0).to(x.device());
        auto shift = symmetric(draw.affine.narrow(1, 1, 2), 2.0 / 14.0).to(x.device());
        auto c = torch::cos(angle), s = torch::sin(angle);
        auto theta = torch::stack({torch::stack({c, -s, shift.select(1, 0)}, 1),
                                   torch::stack({s, c, shift.select(1, 1)}, 1)},
                                  1);
        return resample(x, theta);
    }
    const auto a = draw.affine.to(x.device());
    const double maxAngle = 15.0 * M_PI / 180.0;
    auto scale = 1.0 + symmetric(a.select(1, 3), 0.15);  // > 1 zooms out (samples a wider area)
    auto shifts = symmetric(a.narrow(1, 4, spatial), 2.0 / 8.0);  // grid units: a side is 2
    torch::Tensor linear;
    if (volumetric) {
        linear = torch::bmm(rotation(symmetric(a.select(1, 2), maxAngle), 2),
                            torch::bmm(rotation(symmetric(a.select(1, 1), maxAngle), 1),
                                       rotation(symmetric(a.select(1, 0), maxAngle), 0)));
    } else {
        linear = rotation(symmetric(a.select(1, 0), maxAngle), 2).narrow(1, 0, 2).narrow(2, 0, 2);
    }
    linear = linear * scale.view({B, 1, 1});
    x = resample(x, torch::cat({linear, shifts.unsqueeze(2)}, 2));
    const auto in = draw.intensity.to(x.device());
    std::vector<int64_t> perCase(x.dim(), 1);
    perCase[0] = B;
    std::vector<int64_t> imageDims;  // channels and space: one mean per image
    for (int64_t k = 1; k < x.dim(); ++k) imageDims.push_back(k);
    auto mean = x.mean(imageDims, /*keepdim=*/true);
    auto contrast = (1.0 + symmetric(in.select(1, 1), 0.2)).view(perCase);
    auto brightness = symmetric(in.select(1, 0), 0.1).view(perCase);
    return ((x - mean) * contrast + mean + brightness).clamp(-1, 1);
}

torch::Tensor drawElastic(int64_t batch, bool volumetric, double voxels) {
    if (!(voxels >= 0)) throw Error("--elastic must be a displacement >= 0 (voxels)");
    if (voxels == 0) return {};
    const int axes = volumetric ? 3 : 2;
    std::vector<int64_t> shape{batch, axes};
    for (int a = 0; a < axes; ++a) shape.push_back(kElasticControlPoints);
    return torch::rand(shape);
}

torch::Tensor deformElastic(const torch::Tensor& x, const torch::Tensor& draw, double voxels) {
    namespace F = torch::nn::functional;
    if (!draw.defined() || voxels <= 0) return x;
    const int64_t axes = x.dim() - 2;
    const std::vector<int64_t> size(x.sizes().begin() + 2, x.sizes().end());  // ([D,] H, W)
    // Grid units per voxel along grid axis k (x = width is the last dim).
    std::vector<double> unit;
    for (int64_t k = 0; k < axes; ++k) unit.push_back(2.0 / double(size[axes - 1 - k]));
    std::vector<int64_t> lattice(draw.dim(), 1);  // (1, axes, 1, 1[, 1])
    lattice[1] = axes;
    auto perAxis = torch::tensor(unit, torch::kFloat32).view(lattice).to(x.device());
    auto control = symmetric(draw.to(x.device(), torch::kFloat32), voxels) * perAxis;  // grid units
    // Control point j sits at voxel j (S - 1) / (P - 1): align_corners.
    auto options = F::InterpolateFuncOptions().size(size).align_corners(true);
    if (axes == 3)
        options.mode(torch::kTrilinear);
    else
        options.mode(torch::kBilinear);
    auto field = F::interpolate(control, options);
    std::vector<int64_t> last{0};  // (B, [D,] H, W, axes), as grid_sample wants it
    for (int64_t k = 0; k < axes; ++k) last.push_back(2 + k);
    last.push_back(1);
    const int64_t B = x.size(0);
    auto identity =
        torch::eye(axes, axes + 1, x.options()).unsqueeze(0).expand({B, axes, axes + 1});
    return sampleAt(x, F::affine_grid(identity, x.sizes().vec(), false) + field.permute(last));
}

namespace {

void checkEraseProbability(double probability) {
    if (!(probability >= 0 && probability <= 1))
        throw Error("--erase must be a probability in [0, 1]");
}

// Zhong et al.'s ranges: the box covers 2 % to a third of the image, and
// its sides' ratio lies within 0.3-1/0.3.
constexpr double kEraseAreaMin = 0.02, kEraseAreaMax = 1.0 / 3.0, kEraseAspect = 0.3;

}  // namespace

EraseDraw EraseDraw::select(const torch::Tensor& positions) const {
    EraseDraw r;
    if (box.defined()) r.box = box.index_select(0, positions);
    if (seeds.defined()) r.seeds = seeds.index_select(0, positions);
    return r;
}

EraseDraw drawErase(int64_t batch, bool volumetric, double probability) {
    checkEraseProbability(probability);
    EraseDraw d;
    if (probability == 0) return d;
    const int64_t axes = volumetric ? 3 : 2;
    d.box = torch::rand({batch, 2 + 2 * axes}, torch::kFloat64);
    d.seeds = torch::randint(0, int64_t(1) << 62, {batch}, torch::kInt64);
    return d;
}

EraseBox eraseBoxOf(const torch::Tensor& boxRow, const std::vector<int64_t>& spatialSize,
                    double probability) {
    checkEraseProbability(probability);
    const int64_t axes = static_cast<int64_t>(spatialSize.size());
    const torch::Tensor row = boxRow.to(torch::kCPU, torch::kFloat64).contiguous();
    if (row.dim() != 1 || row.size(0) != 2 + 2 * axes)
        throw Error("an erase draw needs 2 + 2 x axes numbers per case");
    const double* u = row.data_ptr<double>();
    EraseBox box;
    if (u[0] >= probability) return box;
    const double area = kEraseAreaMin + u[1] * (kEraseAreaMax - kEraseAreaMin);
    // Each axis's log-stretch within +-ln(1/0.3)/2, centred so that their
    // product is 1: the box keeps its area, and any two sides' ratio lies
    // within 0.3-3.3 (in 2D, the usual aspect ratio).
    std::vector<double> stretch;
    double mean = 0;
    for (int64_t k = 0; k < axes; ++k) {
        stretch.push_back((u[2 + k] - 0.5) * std::log(1 / kEraseAspect));
        mean += stretch.back() / double(axes);
    }
    // The side of a cube of the box's volume, in voxels: the ratios are
    // between lengths in voxels, whatever the image's own proportions.
    double voxels = area;
    for (int64_t size : spatialSize) voxels *= double(size);
    const double side = std::pow(voxels, 1.0 / double(axes));
    for (int64_t k = 0; k < axes; ++k) {
        const int64_t size = spatialSize[k];
        const auto length =
            std::clamp<int64_t>(std::llround(side * std::exp(stretch[k] - mean)), 1, size);
        const auto start = std::min<int64_t>(
            size - length, static_cast<int64_t>(u[2 + axes + k] * double(size - length + 1)));
        box.start.push_back(start);
        box.length.push_back(length);
    }
    return box;
}

torch::Tensor eraseBoxes(const torch::Tensor& x, const EraseDraw& draw, double probability) {
    if (!draw.box.defined() || probability <= 0) return x;
    const std::vector<int64_t> spatialSize(x.sizes().begin() + 2, x.sizes().end());
    const torch::Tensor seeds = draw.seeds.to(torch::kCPU);
    torch::Tensor erased;  // a copy made at the first box: the caller's images stay as they are
    for (int64_t i = 0; i < x.size(0); ++i) {
        const EraseBox box = eraseBoxOf(draw.box[i], spatialSize, probability);
        if (box.empty()) continue;
        if (!erased.defined()) erased = x.clone();
        std::vector<int64_t> noiseShape{x.size(1)};
        noiseShape.insert(noiseShape.end(), box.length.begin(), box.length.end());
        // The case's own generator: its noise does not depend on which
        // worker erases it or on the other cases.
        auto generator =
            at::detail::createCPUGenerator(static_cast<uint64_t>(seeds[i].item<int64_t>()));
        const torch::Tensor noise = torch::rand(noiseShape, generator, torch::kFloat32) * 2 - 1;
        torch::Tensor region = erased[i];
        for (size_t k = 0; k < box.start.size(); ++k)
            region = region.narrow(static_cast<int64_t>(k) + 1, box.start[k], box.length[k]);
        region.copy_(noise.to(region.device(), region.scalar_type()));
    }
    return erased.defined() ? erased : x;
}

MixDraw drawMix(int64_t batch, const std::vector<int64_t>& spatialSize, double mixupAlpha,
                double cutmixAlpha) {
    MixDraw m;
    if (mixupAlpha <= 0 && cutmixAlpha <= 0) return m;
    bool useMixup = mixupAlpha > 0;
    if (mixupAlpha > 0 && cutmixAlpha > 0) useMixup = torch::rand({1}).item<double>() < 0.5;
    const double alpha = useMixup ? mixupAlpha : cutmixAlpha;
    // Beta(alpha, alpha) as the ratio of two Gamma(alpha) draws.
    auto g = torch::_standard_gamma(torch::full({2}, alpha, torch::kFloat64));
    const double g0 = g[0].item<double>(), g1 = g[1].item<double>();
    m.lambda = g0 + g1 > 0 ? g0 / (g0 + g1) : 0.5;
    m.partner = torch::randperm(batch, torch::kInt64);
    if (useMixup) {
        m.kind = MixDraw::Kind::Mixup;
        return m;
    }
    m.kind = MixDraw::Kind::Cutmix;
    const auto centre = torch::rand({int64_t(spatialSize.size())}, torch::kFloat64);
    const double side = std::pow(1.0 - m.lambda, 1.0 / double(spatialSize.size()));
    double boxVolume = 1;
    for (size_t a = 0; a < spatialSize.size(); ++a) {
        const double n = double(spatialSize[a]);
        const double c = centre[int64_t(a)].item<double>() * n, half = side * n / 2;
        const int64_t lo = std::clamp<int64_t>(std::llround(c - half), 0, spatialSize[a]);
        const int64_t hi = std::clamp<int64_t>(std::llround(c + half), 0, spatialSize[a]);
        m.boxStart.push_back(lo);
        m.boxLength.push_back(hi - lo);
        boxVolume *= double(hi - lo) / n;
    }
    m.lambda = 1.0 - boxVolume;
    return m;
}

torch::Tensor mixImages(const torch::Tensor& x, const torch::Tensor& partners, const MixDraw& mix) {
    switch (mix.kind) {
        case MixDraw::Kind::None:
            return x;
        case MixDraw::Kind::Mixup:
            return mix.lambda * x + (1.0 - mix.lambda) * partners;
        case MixDraw::Kind::Cutmix: {
            torch::Tensor out = x.clone();
            torch::Tensor target = out, source = partners;
            for (size_t a = 0; a < mix.boxStart.size(); ++a) {
                const int64_t dim = 2 + int64_t(a);
                target = target.narrow(dim, mix.boxStart[a], mix.boxLength[a]);
                source = source.narrow(dim, mix.boxStart[a], mix.boxLength[a]);
            }
            target.copy_(source);
            return out;
        }
    }
    return x;
}

ClassBalance parseClassBalance(const std::string& name) {
    if (name == "none") return ClassBalance::None;
    if (name == "loss") return ClassBalance::Loss;
    if (name == "sampler") return ClassBalance::Sampler;
    throw Error("--class-balance must be none, loss or sampler, not '" + name + "'");
}

std::string classBalanceName(ClassBalance b) {
    switch (b) {
        case ClassBalance::None:
            return "none";
        case ClassBalance::Loss:
            return "loss";
        case ClassBalance::Sampler:
            return "sampler";
    }
    return "?";
}

torch::Tensor balancedClassWeights(const torch::Tensor& targets, int classes) {
    auto counts = torch::bincount(targets.to(torch::kInt64), {}, classes).to(torch::kFloat64);
    const double n = double(targets.numel());
    auto weights = torch::where(counts > 0, n / (double(classes) * counts.clamp_min(1)),
                                torch::zeros_like(counts));
    return weights.to(torch::kFloat32);
}

torch::Tensor balancedEpochOrder(const torch::Tensor& targets, int classes) {
    auto counts = torch::bincount(targets.to(torch::kInt64), {}, classes).to(torch::kFloat64);
    auto perCase = (1.0 / counts.clamp_min(1)).index_select(0, targets.to(torch::kInt64));
    return torch::multinomial(perCase, targets.numel(), /*replacement=*/true);
}

torch::Tensor classificationLoss(TaskType task, const torch::Tensor& logits,
                                 const torch::Tensor& targets, double smoothing,
                                 const torch::Tensor& classWeights,
                                 const torch::Tensor& partnerTargets, double lambda) {
    const bool mixed = partnerTargets.defined() && lambda < 1.0;
    if (task == TaskType::MultiLabel) {
        auto t = mixed ? lambda * targets + (1.0 - lambda) * partnerTargets : targets;
        return torch::binary_cross_entropy_with_logits(logits, t);
    }
    auto logp = torch::log_softmax(logits, 1);
    const auto uniformTerm = -logp.mean(1);
    // Per case: smoothed cross entropy against one class, weighted by its class.
    auto perCase = [&](const torch::Tensor& y) {
        auto nll = -logp.gather(1, y.unsqueeze(1)).squeeze(1);
        auto l = (1.0 - smoothing) * nll + smoothing * uniformTerm;
        if (classWeights.defined()) l = l * classWeights.to(l.device()).index_select(0, y);
        return l;
    };
    // Averaged over cases, not over weights: a worker's share then adds up to
    // the global batch's loss at any number of workers.
    auto loss = perCase(targets).mean();
    if (mixed) loss = lambda * loss + (1.0 - lambda) * perCase(partnerTargets).mean();
    return loss;
}

torch::Tensor drawDropPath(int64_t batch, int depth, double rate) {
    if (!(rate >= 0 && rate < 1)) throw Error("--drop-path must be in [0, 1)");
    if (rate == 0) return {};
    // linspace(0, rate, depth) as a (1, depth, 1) column of probabilities.
    const auto drop = (depth > 1 ? torch::linspace(0.0, rate, depth, torch::kFloat64)
                                 : torch::zeros({1}, torch::kFloat64))
                          .view({1, depth, 1});
    const auto keep = (torch::rand({batch, depth, 2}, torch::kFloat64) >= drop).to(torch::kFloat64);
    return (keep / (1.0 - drop)).to(torch::kFloat32);
}

namespace {
// The warm-up term alone: (1 + t) / (10 + t), rising from 0.1 towards 1.
double warmUpDecay(int64_t step) {
    return (1.0 + double(step)) / (10.0 + double(step));
}
}  // namespace

double averageDecayAt(double decay, int64_t step) {
    return std::min(decay, warmUpDecay(step));
}

int64_t firstStepAtFullDecay(double decay) {
    // The closed form, clamped at step 0 (where D <= 0.1 is reached at once);
    // its division rounds, so the boundary is settled on the formula itself.
    int64_t step = std::max<int64_t>(0, int64_t(std::ceil((10.0 * decay - 1.0) / (1.0 - decay))));
    while (step > 0 && warmUpDecay(step - 1) >= decay) --step;
    while (warmUpDecay(step) < decay) ++step;
    return step;
}

WeightAverage::WeightAverage(const std::vector<std::pair<std::string, torch::Tensor>>& parameters,
                             double decay)
    : decay_(decay), live_(parameters) {
    if (decay < 0 || decay >= 1) throw Error("--ema must be in [0, 1)");
    if (!enabled()) return;
    for (const auto& [name, p] : live_) averages_[name] = p.detach().clone();
}

void WeightAverage::update(int64_t step) {
    if (!enabled()) return;
    torch::NoGradGuard noGrad;
    const double d = averageDecayAt(decay_, step);
    for (auto& [name, p] : live_) averages_.at(name).mul_(d).add_(p.detach(), 1.0 - d);
}

void WeightAverage::swapIn() {
    if (!enabled()) return;
    torch::NoGradGuard noGrad;
    for (auto& [name, p] : live_) {
        torch::Tensor held = p.detach().clone();
        p.copy_(averages_.at(name));
        averages_.at(name).copy_(held);
    }
}

void WeightAverage::setAverage(const std::string& name, const torch::Tensor& value) {
    torch::NoGradGuard noGrad;
    averages_.at(name).copy_(value);
}

}  // namespace rllm
