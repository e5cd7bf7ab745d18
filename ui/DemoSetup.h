#pragma once
// Where the viewer's demo lives and how it is made: the synthetic phantom
// datasets and the demo bundles `rllm demo` writes, trained here with a
// progress dialog when they are missing.

#include <QString>

#include <array>
#include <cstdint>
#include <string>

class QWidget;

namespace rllm {

class MedMnistDataset;

struct DemoFiles {
    QString dataset, baseline, booster;
    bool complete() const {
        return !dataset.isEmpty() && !baseline.isEmpty() && !booster.isEmpty();
    }
};

// $RLLM_DEMO_DIR, else the user's application data folder + "/demo".
QString defaultDemoFolder();
// The files for the 2D or 3D demo found in `folder` (empty fields for missing ones).
DemoFiles demoFiles(const QString& folder, bool threeD);
// The first case of `split` labelled 1 (lesion present), else 0.
int firstLesionCase(const MedMnistDataset& dataset, const std::string& split);
// The voxel (x, y, z) at the centre of case `index`'s lesion mask (the demo
// archives' <split>_masks); false when there is no mask or no lesion.
bool lesionCentre(const QString& archive, const std::string& split, int index,
                  std::array<int64_t, 3>& voxel);
// Makes the demo in `folder` (rllm demo's recipe) in a worker thread while a
// progress dialog shows its log; the GUI keeps running. False with the reason on failure.
bool makeDemoWithProgress(const QString& folder, QWidget* parent, QString* error);

}  // namespace rllm
