#pragma once
// Knowledge distillation (Hinton, Vinyals and Dean 2015), internal to the
// models layer: a student learns from trained models' class probabilities on
// the very images it trains on (augmented and mixed), as well as from the
// labels. On a small data set the teachers' soft probabilities say how much
// a case resembles each class, which one label cannot, and an ensemble of
// teachers averages away what a single run learnt by chance.

#include "models/Metrics.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace rllm {

struct BundleDescription;
struct DeviceOptions;

// T^2 * mean over cases of KL(teacher || softmax(studentLogits / T)):
// `teacherProbabilities` (B, K) are already at temperature T (rows sum to
// 1). The T^2 keeps the gradient's size independent of T (Hinton et al.).
torch::Tensor distillationLoss(const torch::Tensor& studentLogits,
                               const torch::Tensor& teacherProbabilities, double temperature);

// Trained bundles whose mean class probabilities the student learns from.
// Each must take the student's input (image size, channels, 2D or 3D, the
// same normalisation) and answer its task with its classes; any
// architecture otherwise (a booster may teach a baseline and back).
class TeacherEnsemble {
  public:
    TeacherEnsemble();  // none: distillation off
    // Throws FileError naming the bundle that cannot teach `student`.
    TeacherEnsemble(const std::vector<std::string>& bundlePaths, const BundleDescription& student,
                    TaskType task, const torch::Device& device, const DeviceOptions& options);
    ~TeacherEnsemble();
    TeacherEnsemble(TeacherEnsemble&&) noexcept;
    TeacherEnsemble& operator=(TeacherEnsemble&&) noexcept;

    bool empty() const;
    // The mean over the teachers of softmax(logits / T) for normalised
    // images `x`, without gradients (the teachers never change).
    torch::Tensor probabilities(const torch::Tensor& x, double temperature) const;

  private:
    struct Teachers;
    std::unique_ptr<Teachers> teachers_;
};

}  // namespace rllm
