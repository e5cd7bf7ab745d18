// Explanations: the CAM formulas, CAMs that peak where the evidence is (2D
// and 3D, each axis), CAMs on the source geometry of NIfTI and DICOM inputs,
// the demo bundles' pointing game, and bad requests.

#include "TestData.h"
#ifdef RLLM_HAVE_MEDICAL_IO
#include "DicomWriter.h"
#endif

#include "core/DemoDataset.h"
#include "core/Error.h"
#ifdef RLLM_HAVE_MEDICAL_IO
#include "core/io/ImageReader.h"
#include "core/io/ItkIo.h"
#endif
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#include "models/LoadedModel.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QCryptographicHash>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <sstream>

using namespace rllm;

namespace {

nlohmann::json description(bool volumetric, int size, int patch) {
    return {{"model",
             {{"arch", volumetric ? "vit3d" : "vit2d"},
              {"dim", 48},
              {"depth", 2},
              {"heads", 3},
              {"mlp_ratio", 4},
              {"image_size", size},
              {"patch", patch},
              {"channels", 1},
              {"classes", 2},
              {"volumetric", volumetric}}},
            {"task", "binary-class"},
            {"class_names", {"no", "yes"}}};
}

// An untrained bundle: enough for geometry, and for EigenCAM, which needs no
// training. Its position embedding is zero, so every patch of plain background
// gives the same token and only patches with structure stand out; its biases
// are not zero, or LayerNorm would blow the rounding noise of a resampled flat
// background up into tokens as different as real structure.
// A CAM request; the remaining options (faithfulness steps, device) at their defaults.
CamOptions camOptions(std::string method, std::string layer, int target, int shifts = 0) {
    CamOptions options;
    options.method = std::move(method);
    options.layer = std::move(layer);
    options.target = target;
    options.shifts = shifts;
    return options;
}

std::string untrainedBundle(const QString& folder, bool volumetric, int size, int patch) {
    const BundleDescription d = BundleDescription::fromJson(description(volumetric, size, patch));
    Classifier model = buildClassifier(d);
    initialiseTrainable(*model, 3);
    {
        torch::NoGradGuard noGrad;
        model->vit->positionEmbedding.zero_();
        torch::manual_seed(4);
        for (auto& p : model->named_parameters())
            if (p.key().find("bias") != std::string::npos) p.value().normal_(0.0, 0.5);
    }
    const std::string path =
        QDir(folder).filePath(volumetric ? "u3.safetensors" : "u2.safetensors").toStdString();
    saveBundle(model, d, path);
    return path;
}

// A one-block ViT whose output depends only on the patches of `region`
// (token indices): its class token attends to those tokens alone. The class
// token carries a mark on channel 0 and the region's position embeddings one
// on channel 1; the attention's queries read channel 0 and its keys channel 1
// only, with a gain that leaves every other token (the class token included)
// a softmax weight that rounds to zero. The two class logits are opposite (l1 = -l0),
// so every token the gradient reaches counts for one class or the other.
Classifier regionOnlyModel(BundleDescription& d, bool volumetric,
                           const std::vector<int64_t>& region) {
    d = BundleDescription::fromJson(description(volumetric, 28, 4));
    d.model.depth = 1;
    Classifier model = buildClassifier(d);
    initialiseTrainable(*model, 5);
    torch::NoGradGuard noGrad;
    auto& vit = model->vit;
    const int64_t C = vit->config.dim, hd = C / 3;
    const double mark = 8.0, gain = 5.0;
    vit->positionEmbedding.zero_();
    vit->classToken.zero_();
    vit->classToken[0][0][0] = mark;
    for (int64_t t : region) vit->positionEmbedding[0][1 + t][1] = mark;
    auto block = vit->blocks->ptr<VitBlockImpl>(0);
    torch::Tensor w = block->qkv->weight, b = block->qkv->bias;
    w.slice(0, 0, 2 * C).zero_();
    b.slice(0, 0, 2 * C).zero_();
    for (int64_t h = 0; h < 3; ++h) {
        w[h * hd][0] = gain;      // queries read the class token's mark
        w[C + h * hd][1] = gain;  // keys read the region's
    }
    // Freshly initialised weights are small; a larger head makes the
    // region's content move the logits visibly.
    vit->head->weight[0].mul_(1000);
    vit->head->weight[1].copy_(-vit->head->weight[0]);
    vit->head->bias.zero_();
    model->eval();
    return model;
}

QByteArray fileHash(const std::string& path) {
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(file.readAll(), QCryptographicHash::Sha256);
}

std::array<int64_t, 3> argmax(const Volume& v) {
    const auto& voxels = v.voxels();
    const int64_t i = std::max_element(voxels.begin(), voxels.end()) - voxels.begin();
    const auto& s = v.size();
    return {i % s[0], (i / s[0]) % s[1], i / (s[0] * s[1])};
}

}  // namespace

class TestExplain : public QObject {
    Q_OBJECT

    // rllm cam-choose on a trained baseline (whose phantom-rule map is
    // faithful, above): it measures every recipe on the val split, records
    // the faithful one with the largest margins in a new bundle, leaves the
    // input untouched, and `auto` on the new bundle is that recipe.
    void checkCamChoice(const TrainOptions& trained, const QTemporaryDir& dir) {
        const std::string& bundle = trained.outPath;
        const std::string& dataPath = trained.dataPath;
        const QByteArray before = fileHash(bundle);
        const std::string chosenPath = dir.filePath("chosen.safetensors").toStdString();
        CamChoiceOptions o;
        o.maxCases = 24;
        o.device.threads = 2;
        const CamChoiceSummary s = chooseCamRecipe(bundle, dataPath, chosenPath, o);
        QCOMPARE(fileHash(bundle), before);
        // Every method at every layer but booster:input, rollout, and the phantom rule first.
        QCOMPARE(s.candidates.size(), size_t(4 * 4 + 1));
        QCOMPARE(s.candidates[0].method, std::string("eigencam"));
        QCOMPARE(s.candidates[0].layer, std::string("block:0:norm1"));
        QVERIFY(s.chosen >= 0);
        auto margin = [](const CamCandidate& c) {
            return c.insertionMinusDeletion() + c.lerfMinusMorf();
        };
        const CamCandidate& best = s.candidates[s.chosen];
        int measured = 0;
        for (const CamCandidate& c : s.candidates) {
            if (!c.unavailable.empty()) continue;
            ++measured;
            QCOMPARE(c.scores.cases, int64_t(24));
            QCOMPARE(c.faithful(), c.insertionMinusDeletion() > 0 && c.lerfMinusMorf() > 0);
            if (c.faithful()) QVERIFY(margin(c) <= margin(best));
        }
        // The gradient methods cannot use the last block's output of a baseline.
        QCOMPARE(measured, 17 - 3);
        qInfo("cam-choose: %s at %s, insertion - deletion %.3f, LeRF - MoRF %.3f",
              best.method.c_str(), best.layer.c_str(), best.insertionMinusDeletion(),
              best.lerfMinusMorf());
        // What auto gives on the new bundle: the recorded recipe, scoring what it scored.
        const LoadedBundle chosen = loadBundle(chosenPath);
        QVERIFY(chosen.description.explanation.has_value());
        QCOMPARE(chosen.description.explanation->method, best.method);
        QCOMPARE(chosen.description.explanation->split, std::string("val"));
        CamEvalOptions e;
        e.split = "val";
        e.maxCases = 24;
        e.roadSteps = o.roadSteps;
        e.device.threads = 2;
        const CamEvalSummary again = evaluateCams(chosenPath, dataPath, e);
        QCOMPARE(again.method, best.method);
        QCOMPARE(again.layer, best.layer);
        QVERIFY(std::abs(again.insertionAuc - best.scores.insertionAuc) < 1e-6);
        QVERIFY(std::abs(again.roadLerfAuc - best.scores.roadLerfAuc) < 1e-6);
        // The choice stays off the test split, and the input is never the output.
        CamChoiceOptions onTest = o;
        onTest.split = "test";
        QVERIFY_THROWS_EXCEPTION(Error,
                                 chooseCamRecipe(bundle, dataPath, chosenPath + "2", onTest));
        QVERIFY_THROWS_EXCEPTION(Error, chooseCamRecipe(bundle, dataPath, bundle, o));

        // train --choose-cam: the same run (same seed, same weights) records in
        // its own bundle the choice cam-choose made on a copy.
        TrainOptions chooseToo = trained;
        chooseToo.outPath = dir.filePath("trained-and-chosen.safetensors").toStdString();
        chooseToo.chooseCam = true;
        chooseToo.chooseCamCases = o.maxCases;
        std::ostringstream log;
        const TrainSummary t = trainClassifier(chooseToo, log);
        QVERIFY(t.camChoice);
        QCOMPARE(t.camChoice->chosen, s.chosen);
        const LoadedBundle own = loadBundle(chooseToo.outPath);
        QVERIFY(own.description.explanation.has_value());
        const ExplanationChoice& recorded = *own.description.explanation;
        const ExplanationChoice& copied = *chosen.description.explanation;
        QCOMPARE(recorded.method, copied.method);
        QCOMPARE(recorded.layer, copied.layer);
        QCOMPARE(recorded.cases, copied.cases);
        QVERIFY(std::abs(recorded.insertion_minus_deletion - copied.insertion_minus_deletion) <
                1e-6);
        QVERIFY(std::abs(recorded.lerf_minus_morf - copied.lerf_minus_morf) < 1e-6);
        QVERIFY(own.description.training.has_value());  // still the trained bundle

        // The viewer's way (LoadedModel::chooseCam on the model it holds, here
        // on 8 cases without ROAD to keep the test short): the model unchanged
        // until setExplanation, then `auto` gives the chosen map; a cancel stops it.
        LoadedModel held(bundle, o.device);
        CamChoiceOptions viewer = o;
        viewer.maxCases = 8;
        viewer.roadSteps = 0;
        int reported = 0, total = 0;
        viewer.progress = [&](int measured, int of) {
            reported = measured;
            total = of;
        };
        CamChoiceSummary heldSummary;
        const std::optional<ExplanationChoice> choice =
            held.chooseCam(dataPath, viewer, &heldSummary);
        QVERIFY(choice.has_value());
        QCOMPARE(reported, int(s.candidates.size()));
        QCOMPARE(total, int(s.candidates.size()));
        QVERIFY(heldSummary.chosen >= 0);
        QCOMPARE(choice->method, heldSummary.candidates[heldSummary.chosen].method);
        QCOMPARE(choice->layer, heldSummary.candidates[heldSummary.chosen].layer);
        QCOMPARE(choice->cases, int64_t(8));
        QCOMPARE(choice->split, std::string("val"));
        QVERIFY(!held.description().explanation.has_value());
        const Volume valCase = MedMnistDataset(dataPath).image("val", 0);
        CamOptions automatic;
        automatic.method = "auto";
        QCOMPARE(held.cam(valCase, automatic).method, std::string("eigencam"));
        held.setExplanation(choice);
        const CamResult chosenMap = held.cam(valCase, automatic);
        QCOMPARE(chosenMap.method, choice->method);
        QCOMPARE(chosenMap.layer, choice->layer);
        QVERIFY(held.descriptionJson().find("\"explanation\"") != std::string::npos);
        std::atomic<bool> stop{true};
        viewer.cancel = &stop;
        QVERIFY_THROWS_EXCEPTION(Error, held.chooseCam(dataPath, viewer));
    }

  private slots:
    void initTestCase() { torch::set_num_threads(2); }

    // ROAD's imputation solves the neighbour-mean equations: a linear ramp is
    // harmonic for a symmetric neighbourhood, so a hole away from the border
    // is filled with the ramp itself (up to the anchor eps); known pixels stay
    // exactly; with nothing known the image's mean is all that is left.
    void roadImputationFillsHolesFromTheirNeighbours() {
        for (bool volumetric : {false, true}) {
            const int64_t S = volumetric ? 12 : 20;
            torch::Tensor ramp =
                volumetric ? torch::zeros({1, 2, S, S, S}) : torch::zeros({1, 2, S, S});
            torch::Tensor removed = torch::zeros(
                volumetric ? std::vector<int64_t>{1, 1, S, S, S} : std::vector<int64_t>{1, 1, S, S},
                torch::kBool);
            auto coordinate = [&](int axis) {
                return torch::arange(S, torch::kFloat)
                    .view(volumetric ? std::vector<int64_t>{1, 1, 1, 1, S}
                                     : std::vector<int64_t>{1, 1, 1, S})
                    .transpose(-1, -1 - axis);
            };
            // channel 0: 0.05 x - 0.03 y (+ 0.02 z); channel 1: its negative plus 0.3
            torch::Tensor value = 0.05 * coordinate(0) - 0.03 * coordinate(1);
            if (volumetric) value = value + 0.02 * coordinate(2);
            ramp.select(1, 0).copy_(value.squeeze(1).expand_as(ramp.select(1, 0)));
            ramp.select(1, 1).copy_(0.3 - ramp.select(1, 0));
            auto hole = removed;
            for (int64_t d = 2; d < hole.dim(); ++d) hole = hole.narrow(d, 4, S - 9);
            hole.fill_(true);
            torch::Tensor blanked = torch::where(removed, torch::full_like(ramp, 7.0f), ramp);
            const torch::Tensor filled = imputeLinearly(blanked, removed);
            const float error = (filled - ramp).abs().max().item<float>();
            QVERIFY2(error < 2e-3,
                     qPrintable(QString("%1D: %2").arg(volumetric ? 3 : 2).arg(error)));
            QVERIFY(torch::equal(torch::where(removed, ramp, filled), ramp));  // known pixels kept
            const torch::Tensor all = torch::ones_like(removed);
            const torch::Tensor nothingKnown = imputeLinearly(ramp, all);
            for (int c = 0; c < 2; ++c) {
                const float off = (nothingKnown.select(1, c) - ramp.select(1, c).mean())
                                      .abs()
                                      .max()
                                      .item<float>();
                QVERIFY2(
                    off < 1e-3,
                    qPrintable(
                        QString("%1D channel %2: %3").arg(volumetric ? 3 : 2).arg(c).arg(off)));
            }
        }
    }

    void camFormulasMatchTheirDefinitions() {
        // Three tokens, two channels.
        torch::Tensor A = torch::tensor({{1.0, 2.0}, {3.0, 0.0}, {0.0, 1.0}});
        torch::Tensor G = torch::tensor({{0.5, -1.0}, {0.5, 1.0}, {2.0, 0.0}});
        // Grad-CAM: weights = channel means of G = (1, 0); map = relu(A w) = (1, 3, 0).
        QVERIFY(torch::allclose(tokenCam("gradcam", A, G), torch::tensor({1.0, 3.0, 0.0})));
        // HiResCAM: relu(sum_c G*A) = relu(0.5-2, 1.5+0, 0+0) = (0, 1.5, 0).
        QVERIFY(torch::allclose(tokenCam("hirescam", A, G), torch::tensor({0.0, 1.5, 0.0})));
        // Grad-CAM++ by hand: alpha = g^2 / (2 g^2 + sum_tokens(A) g^3); w = sum alpha relu(g).
        torch::Tensor sumA = A.sum(0, true), g2 = G.pow(2), g3 = G.pow(3);
        torch::Tensor denominator = 2 * g2 + sumA * g3;
        torch::Tensor alpha =
            torch::where(denominator != 0, g2 / denominator, torch::zeros_like(g2));
        torch::Tensor w = (alpha * torch::relu(G)).sum(0);
        QVERIFY(torch::allclose(tokenCam("gradcam++", A, G), torch::relu(A.matmul(w))));
        // EigenCAM: one token unlike the others stands out.
        torch::Tensor B = torch::ones({5, 4});
        B[3] = torch::tensor({5.0, -3.0, 2.0, 0.0});
        torch::Tensor e = tokenCam("eigencam", B, B);
        QCOMPARE(e.argmax().item<int64_t>(), int64_t(3));
        QVERIFY_THROWS_EXCEPTION(Error, tokenCam("smoothgrad", A, G));
    }

    void rolloutMatchesItsDefinition() {
        // Two blocks, two heads, three tokens; the rollout written out with plain
        // loops: R = I; per block R = R + Abar R, Abar = mean_h relu(G_h * A_h).
        torch::manual_seed(3);
        std::vector<torch::Tensor> attentions, gradients;
        std::vector<std::vector<double>> abar(2, std::vector<double>(9, 0.0));
        for (int block = 0; block < 2; ++block) {
            torch::Tensor a = torch::softmax(torch::randn({1, 2, 3, 3}, torch::kFloat64), -1);
            torch::Tensor g = torch::randn({1, 2, 3, 3}, torch::kFloat64);
            attentions.push_back(a);
            gradients.push_back(g);
            for (int h = 0; h < 2; ++h)
                for (int i = 0; i < 3; ++i)
                    for (int j = 0; j < 3; ++j)
                        abar[block][i * 3 + j] += std::max(0.0, g[0][h][i][j].item<double>() *
                                                                    a[0][h][i][j].item<double>()) /
                                                  2;
        }
        double r[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        for (int block = 0; block < 2; ++block) {
            double next[9];
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                    double sum = r[i * 3 + j];
                    for (int k = 0; k < 3; ++k) sum += abar[block][i * 3 + k] * r[k * 3 + j];
                    next[i * 3 + j] = sum;
                }
            std::copy(next, next + 9, r);
        }
        torch::Tensor rollout = attentionRollout(attentions, gradients);
        for (int j = 0; j < 3; ++j) QVERIFY(std::abs(rollout[j].item<double>() - r[j]) < 1e-12);
        // A mean-pooled head reads the patch tokens (rows 1 and 2) in equal parts.
        torch::Tensor pooled = attentionRollout(attentions, gradients, true);
        for (int j = 0; j < 3; ++j)
            QVERIFY(std::abs(pooled[j].item<double>() - (r[3 + j] + r[6 + j]) / 2) < 1e-12);
        QVERIFY_THROWS_EXCEPTION(Error, attentionRollout({}, {}));
    }

    void threeDCamKeepsSlicesAndOrientation() {
        QTemporaryDir dir;
        const std::string bundle = untrainedBundle(dir.path(), true, 28, 4);
        // A bright cube off centre along each axis in turn, in a 28 x 32 x 24 volume with
        // anisotropic spacing: the CAM must come back on that grid, peaking in the cube.
        const std::array<std::array<int64_t, 3>, 3> centres{
            {{4, 16, 12}, {14, 27, 12}, {14, 16, 20}}};
        for (const auto& c : centres) {
            Volume v({28, 32, 24});
            v.geometry().spacing = {0.7, 0.9, 2.5};
            v.geometry().origin = {-10, 4, 100};
            for (int64_t z = c[2] - 2; z <= c[2] + 1; ++z)
                for (int64_t y = c[1] - 2; y <= c[1] + 1; ++y)
                    for (int64_t x = c[0] - 2; x <= c[0] + 1; ++x)
                        v.at(x, y, z) = 1000.0f + 50.0f * ((x * 7 + y * 3 + z) % 5);
            CamOptions o;
            o.method = "eigencam";
            o.layer = "block:0:norm1";
            CamResult r = computeCam(bundle, v, o);
            QCOMPARE(r.cam.size(), v.size());
            QVERIFY(r.cam.geometry().sameGridAs(v.geometry()));
            const auto peak = argmax(r.cam);
            for (int axis = 0; axis < 3; ++axis)
                // Within one token (4 model voxels, at most 4.6 source voxels here).
                QVERIFY2(std::abs(peak[axis] - c[axis]) <= 5,
                         qPrintable(QString("axis %1: peak %2, cube at %3")
                                        .arg(axis)
                                        .arg(peak[axis])
                                        .arg(c[axis])));
        }
    }

    // A map on a 4 x 4 x 4 token grid peaks at a token centre; averaged over
    // sub-patch shifts it can follow a small object inside a patch. An untrained
    // 3D bundle with 7-voxel patches, a textured 3-voxel cube at several places
    // inside one patch, EigenCAM plain and averaged over 7 shifts per axis.
    void shiftAveragingFollowsTheEvidenceInsideAPatch() {
        QTemporaryDir dir;
        const std::string bundle = untrainedBundle(dir.path(), true, 28, 7);
        double plainError = 0, shiftedError = 0;
        int placements = 0;
        for (int64_t cz : {8, 11, 13})
            for (int64_t cy : {8, 12})
                for (int64_t cx : {9, 13}) {
                    Volume v({28, 28, 28});
                    for (int64_t z = cz - 1; z <= cz + 1; ++z)
                        for (int64_t y = cy - 1; y <= cy + 1; ++y)
                            for (int64_t x = cx - 1; x <= cx + 1; ++x)
                                v.at(x, y, z) = 1000.0f + 50.0f * ((x * 7 + y * 3 + z) % 5);
                    CamOptions o;
                    o.method = "eigencam";
                    o.shifts = 1;
                    const auto plain = argmax(computeCam(bundle, v, o).cam);
                    o.shifts = 7;
                    const CamResult r = computeCam(bundle, v, o);
                    QCOMPARE(r.shifts, 7);
                    const auto shifted = argmax(r.cam);
                    const std::array<int64_t, 3> c{cx, cy, cz};
                    for (int axis = 0; axis < 3; ++axis) {
                        plainError += std::abs(double(plain[axis] - c[axis]));
                        shiftedError += std::abs(double(shifted[axis] - c[axis]));
                        QVERIFY2(std::abs(shifted[axis] - c[axis]) <= 2,
                                 qPrintable(QString("axis %1: averaged peak %2, cube at %3")
                                                .arg(axis)
                                                .arg(shifted[axis])
                                                .arg(c[axis])));
                    }
                    ++placements;
                }
        plainError /= 3 * placements;
        shiftedError /= 3 * placements;
        qInfo("mean distance to the cube per axis: plain %.2f voxels, 7 shifts %.2f voxels",
              plainError, shiftedError);
        QVERIFY(shiftedError < plainError);
    }

    void twoDCamPeaksOnTheEvidence() {
        QTemporaryDir dir;
        const std::string bundle = untrainedBundle(dir.path(), false, 28, 4);
        Volume v({56, 42, 1});
        for (int64_t y = 30; y < 36; ++y)
            for (int64_t x = 8; x < 14; ++x) v.at(x, y, 0) = 200.0f + 10.0f * ((x + 2 * y) % 5);
        CamOptions o;
        o.method = "eigencam";
        o.layer = "block:0:norm1";
        CamResult r = computeCam(bundle, v, o);
        const auto peak = argmax(r.cam);
        QVERIFY(peak[0] >= 6 && peak[0] <= 15 && peak[1] >= 28 && peak[1] <= 37);
        QCOMPARE(r.layer, std::string("block:0:norm1"));
    }

    void camNiftiKeepsTheInputGeometry() {
#ifndef RLLM_HAVE_MEDICAL_IO
        QSKIP("built without DICOM and ITK (RLLM_WITH_MEDICAL_IO=OFF): no NIfTI or DICOM input");
#else
        QTemporaryDir dir;
        const std::string bundle = untrainedBundle(dir.path(), true, 28, 4);
        // A NIfTI input with an oblique direction.
        Volume v({20, 24, 16});
        for (size_t i = 0; i < v.voxels().size(); ++i) v.voxels()[i] = float(i % 97);
        v.geometry().spacing = {0.8, 0.8, 3.0};
        v.geometry().origin = {12, -40, 7};
        const double c = std::cos(0.2), s = std::sin(0.2);
        v.geometry().direction = {c, -s, 0, s, c, 0, 0, 0, 1};
        const QString input = dir.filePath("in.nii.gz");
        writeNifti(v, input.toStdString());
        // A DICOM series written with DCMTK.
        QDir(dir.path()).mkdir("series");
        for (int z = 0; z < 6; ++z) {
            test::SliceSpec spec;
            spec.rows = 20, spec.columns = 18;
            spec.position = {5, 6, -30 + 2.5 * z};
            test::writeSlice(dir.filePath(QString("series/s%1.dcm").arg(z)), spec, 100 + 10 * z);
        }
        for (const QString& path : {input, dir.filePath("series")}) {
            Volume source = readImage(path.toStdString());
            CamResult r = computeCam(bundle, source, camOptions("gradcam", "", -1));
            const QString out = dir.filePath("cam.nii.gz");
            writeNifti(r.cam, out.toStdString());
            Volume back = readImage(out.toStdString());
            QVERIFY2(back.geometry().sameGridAs(source.geometry(), 1e-5), qPrintable(path));
            QVERIFY(back.valueRange().max <= 1.0f && back.valueRange().min >= 0.0f);
        }
#endif
    }

    void badRequestsAreRefused() {
        QTemporaryDir dir;
        const std::string bundle = untrainedBundle(dir.path(), false, 28, 4);
        Volume v({28, 28, 1});
        v.at(3, 3, 0) = 1;
        QVERIFY_THROWS_EXCEPTION(Error,
                                 computeCam(bundle, v, camOptions("gradcam", "block:7", -1)));
        QVERIFY_THROWS_EXCEPTION(Error,
                                 computeCam(bundle, v, camOptions("gradcam", "booster:llm", -1)));
        QVERIFY_THROWS_EXCEPTION(Error, computeCam(bundle, v, camOptions("gradcam", "layer4", -1)));
        QVERIFY_THROWS_EXCEPTION(Error, computeCam(bundle, v, camOptions("gradcam", "", 5)));
        QVERIFY_THROWS_EXCEPTION(Error, computeCam(bundle, v, camOptions("magic", "", -1)));
        // Rollout follows every block's attention: a layer is refused, none is fine.
        QVERIFY_THROWS_EXCEPTION(Error,
                                 computeCam(bundle, v, camOptions("rollout", "block:0", -1)));
        QCOMPARE(computeCam(bundle, v, camOptions("rollout", "", -1)).layer,
                 std::string(kRolloutLayer));
        // The last block's output tokens never reach the class token: the zero gradient is
        // reported.
        try {
            computeCam(bundle, v, camOptions("gradcam", "block:1", -1));
            QFAIL("a zero-gradient layer was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("zero"), e.what());
        }
        Volume volume({28, 28, 28});
        QVERIFY_THROWS_EXCEPTION(Error, computeCam(bundle, volume, {}));  // 3D input, 2D model
        // More shifts per axis than a patch has voxels, or a negative count.
        QVERIFY_THROWS_EXCEPTION(Error, computeCam(bundle, v, camOptions("eigencam", "", -1, 5)));
        QVERIFY_THROWS_EXCEPTION(Error, computeCam(bundle, v, camOptions("eigencam", "", -1, -1)));
        // auto means rollout on a 3D model, which takes no layer: said, not ignored.
        const std::string bundle3d = untrainedBundle(dir.path(), true, 28, 4);
        try {
            computeCam(bundle3d, volume, camOptions("auto", "block:0", -1, 0));
            QFAIL("auto with a layer was accepted on a 3D model");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("rollout"), e.what());
        }
        QCOMPARE(computeCam(bundle3d, volume, camOptions("auto", "", -1, 0)).method,
                 std::string("rollout"));
    }

    void gradientCamsPeakInTheRegionTheOutputDependsOn() {
        for (bool volumetric : {false, true}) {
            // 2D: a 7x7 token grid; 3D: 7x7x7. The region is off centre.
            const int64_t g = 7;
            const std::vector<int64_t> region =
                volumetric ? std::vector<int64_t>{(1 * g + 4) * g + 5, (1 * g + 4) * g + 6,
                                                  (2 * g + 4) * g + 5, (2 * g + 5) * g + 5}
                           : std::vector<int64_t>{1 * g + 4, 1 * g + 5, 2 * g + 4, 2 * g + 5};
            BundleDescription d;
            Classifier model = regionOnlyModel(d, volumetric, region);
            torch::manual_seed(11);
            const std::vector<int64_t> shape = volumetric ? std::vector<int64_t>{1, 1, 28, 28, 28}
                                                          : std::vector<int64_t>{1, 1, 28, 28};
            const torch::Tensor image = torch::rand(shape) * 2 - 1;

            // The construction holds: new pixels outside the region leave the
            // logits as they were; new pixels inside change them.
            torch::Tensor inside = torch::zeros(shape, torch::kBool);
            for (int64_t t : region) {
                const int64_t x = t % g, y = (t / g) % g, z = t / (g * g);
                if (volumetric)
                    inside.slice(2, 4 * z, 4 * z + 4)
                        .slice(3, 4 * y, 4 * y + 4)
                        .slice(4, 4 * x, 4 * x + 4)
                        .fill_(true);
                else
                    inside.slice(2, 4 * y, 4 * y + 4).slice(3, 4 * x, 4 * x + 4).fill_(true);
            }
            const torch::Tensor noise = torch::rand(shape) * 2 - 1;
            {
                torch::NoGradGuard noGrad;
                const torch::Tensor logits = model->forward(image);
                const torch::Tensor outsideChanged =
                    model->forward(torch::where(inside, image, noise));
                const torch::Tensor insideChanged =
                    model->forward(torch::where(inside, noise, image));
                QVERIFY((logits - outsideChanged).abs().max().item<double>() < 1e-5);
                QVERIFY((logits - insideChanged).abs().max().item<double>() > 1e-3);
            }

            // For each class, wherever the map is not empty its maximum is a
            // region token. Grad-CAM is logged, not asserted: its channel
            // weights are averaged over the grid and then applied to every
            // token's activations, so tokens the output never saw light up too.
            for (const char* method : {"hirescam", "rollout", "gradcam"}) {
                const std::string layer =
                    std::string(method) == "rollout" ? kRolloutLayer : "block:0:norm1";
                int nonEmpty = 0;
                for (int target = 0; target < 2; ++target) {
                    const ModelCam cam = camOnTokens(model, d, image, layer, method, target);
                    const torch::Tensor map = cam.grid.flatten();
                    if (map.max().item<double>() <= 0) continue;
                    ++nonEmpty;
                    const int64_t peak = map.argmax().item<int64_t>();
                    const bool inRegion =
                        std::find(region.begin(), region.end(), peak) != region.end();
                    double outside = 0;
                    for (int64_t t = 0; t < map.numel(); ++t)
                        if (std::find(region.begin(), region.end(), t) == region.end())
                            outside = std::max(outside, map[t].item<double>());
                    qInfo(
                        "%s %s class %d: peak at token %lld (%s the region); largest value "
                        "outside the region %.3g of the peak",
                        volumetric ? "3D" : "2D", method, target, static_cast<long long>(peak),
                        inRegion ? "in" : "outside", outside);
                    if (std::string(method) != "gradcam") {
                        QVERIFY(inRegion);
                        QVERIFY(outside < 1e-6);
                    }
                }
                if (std::string(method) != "gradcam") QVERIFY(nonEmpty >= 1);
            }
        }
    }

    void demoBundlesPointAtTheLesion() {
        // The demo's own recipe, smaller: phantoms with and without a lesion, a
        // baseline and a booster (random frozen block), then the pointing game.
        QTemporaryDir dir;
        DemoDatasetOptions data;
        data.train = 240, data.val = 60, data.test = 60;
        const std::string dataPath = dir.filePath("phantom2d.npz").toStdString();
        writeDemoDataset(dataPath, data);
        for (bool boosted : {false, true}) {
            TrainOptions t;
            t.dataPath = dataPath;
            t.outPath = dir.filePath(boosted ? "booster.safetensors" : "baseline.safetensors")
                            .toStdString();
            t.depth = 2;
            t.epochs = 8;
            t.seed = 1;
            t.device.threads = 2;
            if (boosted) t.booster = "in", t.randomLlm = true;
            std::ostringstream log;
            TrainSummary s = trainClassifier(t, log);
            QVERIFY(s.test.auc > 0.95);
            // The default (EigenCAM at the first block) finds the lesion and, on
            // the baseline, is faithful: revealing its most attended pixels first
            // restores the class faster than deleting them removes it. The gradient methods
            // are logged, not asserted: their sign flips from one trained model
            // to the next on these tokens (models/Cam.h, docs/explanations.md).
            for (const char* method : {"auto", "rollout", "hirescam", "gradcam"}) {
                CamEvalOptions o;
                o.method = method;
                // HiResCAM at the last block's norm, where docs/explanations.md quotes it.
                if (o.method == "hirescam") o.layer = "block:-1:norm1";
                o.device.threads = 2;
                CamEvalSummary e = evaluateCams(t.outPath, dataPath, o);
                qInfo(
                    "%s %s at %s: test AUC %.3f; pointing game %.3f over %lld lesions; deletion "
                    "%.3f "
                    "insertion %.3f",
                    boosted ? "booster" : "baseline", method, e.layer.c_str(), s.test.auc,
                    e.pointingGame, static_cast<long long>(e.pointingCases), e.deletionAuc,
                    e.insertionAuc);
                QCOMPARE(e.pointingCases, int64_t(30));
                if (o.method == "auto") {  // on 2D models: EigenCAM at the first block
                    QCOMPARE(e.method, std::string("eigencam"));
                    QCOMPARE(e.shifts, 1);
                    QCOMPARE(e.layer, std::string("block:0:norm1"));
                    QVERIFY2(e.pointingGame >= 0.8, qPrintable(QString::number(e.pointingGame)));
                    // Faithful on the baseline. This small booster's probability
                    // hardly moves under deletion or insertion (both curves stay
                    // near 0.64 for every method), so the curves cannot rank its maps.
                    if (!boosted) QVERIFY(e.insertionAuc > e.deletionAuc + 0.05);
                }
            }
            if (!boosted) checkCamChoice(t, dir);
        }
    }

    void demo3dBundlesPointAtTheLesion() {
        // `rllm demo`'s 3D half, exactly its recipe (phantoms, model shapes,
        // epochs): the pointing game's ceiling on the token grid against an
        // independent count, then the trained bundles' pointing game with the
        // automatic choice for 3D (rollout averaged over 3 shifts per axis).
        QTemporaryDir dir;
        DemoOptions demo;
        demo.outDir = dir.path().toStdString();
        demo.include2d = false;
        demo.device.threads = 2;
        std::ostringstream log;
        const DemoSummary made = makeDemo(demo, log);
        QCOMPARE(made.datasets.size(), size_t(1));
        QCOMPARE(made.bundles.size(), size_t(2));

        // 7-voxel patches make a 4x4x4 token grid whose centres, upsampled
        // back to 28 voxels, are voxels 3, 10, 17 and 24 along each axis.
        NpzArchive archive(made.datasets[0]);
        const NpyArray masks = archive.readArray("test_masks");
        const int64_t cases = masks.header.shape[0], voxels = 28 * 28 * 28;
        int64_t lesions = 0, reachable = 0;
        for (int64_t i = 0; i < cases; ++i) {
            const uint8_t* mask = masks.data.data() + i * voxels;
            if (std::none_of(mask, mask + voxels, [](uint8_t v) { return v != 0; })) continue;
            ++lesions;
            bool hit = false;
            for (int z = 3; z < 28; z += 7)
                for (int y = 3; y < 28; y += 7)
                    for (int x = 3; x < 28; x += 7) hit = hit || mask[(z * 28 + y) * 28 + x] != 0;
            reachable += hit;
        }
        QCOMPARE(lesions, int64_t(30));
        for (const std::string& bundle : made.bundles) {
            CamEvalOptions plain;  // EigenCAM on the token grid, no shifts
            plain.method = "eigencam";
            plain.device.threads = 2;
            const CamEvalSummary p = evaluateCams(bundle, made.datasets[0], plain);
            QCOMPARE(p.pointingCases, lesions);
            QCOMPARE(p.pointingCeiling, double(reachable) / lesions);
            // The demo's 3D lesions are large enough for this grid.
            QVERIFY2(p.pointingCeiling >= 0.9, qPrintable(QString::number(p.pointingCeiling)));

            CamEvalOptions automatic;
            automatic.device.threads = 2;
            const CamEvalSummary a = evaluateCams(bundle, made.datasets[0], automatic);
            qInfo(
                "%s: EigenCAM pointing game %.3f (deletion %.3f, insertion %.3f); automatic (%s, "
                "%d shifts) %.3f (deletion %.3f, insertion %.3f)",
                bundle.c_str(), p.pointingGame, p.deletionAuc, p.insertionAuc, a.method.c_str(),
                a.shifts, a.pointingGame, a.deletionAuc, a.insertionAuc);
            QCOMPARE(a.method, std::string("rollout"));
            QCOMPARE(a.shifts, 3);
            QCOMPARE(a.pointingCeiling, 1.0);  // averaged over shifts: any voxel can be the peak
            QVERIFY2(a.pointingGame >= 0.8, qPrintable(QString::number(a.pointingGame)));
        }
    }

    // Shift averaging: the offsets spread over one patch, and a map averaged
    // over shifts of a model that only sees a known region still peaks inside it.
    void shiftOffsetsSpreadOverAPatch() {
        QCOMPARE(shiftOffsets(7, 1), (std::vector<int64_t>{0}));
        QCOMPARE(shiftOffsets(7, 3), (std::vector<int64_t>{-2, 0, 2}));
        QCOMPARE(shiftOffsets(4, 2), (std::vector<int64_t>{-1, 1}));
        QCOMPARE(shiftOffsets(4, 4), (std::vector<int64_t>{-2, -1, 1, 2}));
        QVERIFY_THROWS_EXCEPTION(Error, shiftOffsets(4, 5));
        QVERIFY_THROWS_EXCEPTION(Error, shiftOffsets(4, 0));
    }
};

QTEST_APPLESS_MAIN(TestExplain)
#include "test_explain.moc"
