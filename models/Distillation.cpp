#include "models/Distillation.h"

#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Engine.h"
#include "models/ModelInput.h"

#include <ATen/CPUGeneratorImpl.h>

namespace rllm {

torch::Tensor distillationLoss(const torch::Tensor& studentLogits,
                               const torch::Tensor& teacherProbabilities, double temperature) {
    if (!(temperature > 0)) throw Error("--distill-temperature must be > 0");
    const auto studentLog = torch::log_softmax(studentLogits / temperature, 1);
    // 0 log 0 is 0: a class a teacher rules out contributes nothing.
    const auto teacherLog = torch::where(teacherProbabilities > 0, teacherProbabilities.log(),
                                         torch::zeros_like(teacherProbabilities));
    const auto perCase = (teacherProbabilities * (teacherLog - studentLog)).sum(1);
    return perCase.mean() * (temperature * temperature);
}

namespace {

// Building a network draws its initial weights from the default generator,
// which the run's own draws (its data order, augmentation, mixing) come from
// too; the teachers' weights are then overwritten from their files. Keeping
// the generator's state across the loading keeps a run's random numbers
// those of the same run without teachers, so the two are paired case by case.
std::string joinedNames(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "\"" : ", \"") + name + "\"";
    return text;
}

class KeepRandomState {
  public:
    KeepRandomState() : generator_(at::detail::getDefaultCPUGenerator()) {
        std::lock_guard<std::mutex> lock(generator_.mutex());
        state_ = generator_.get_state();
    }
    ~KeepRandomState() {
        std::lock_guard<std::mutex> lock(generator_.mutex());
        generator_.set_state(state_);
    }
    KeepRandomState(const KeepRandomState&) = delete;
    KeepRandomState& operator=(const KeepRandomState&) = delete;

  private:
    at::Generator generator_;
    at::Tensor state_;
};

}  // namespace

struct TeacherEnsemble::Teachers {
    std::vector<Classifier> models;
};

TeacherEnsemble::TeacherEnsemble() = default;
TeacherEnsemble::~TeacherEnsemble() = default;
TeacherEnsemble::TeacherEnsemble(TeacherEnsemble&&) noexcept = default;
TeacherEnsemble& TeacherEnsemble::operator=(TeacherEnsemble&&) noexcept = default;

TeacherEnsemble::TeacherEnsemble(const std::vector<std::string>& bundlePaths,
                                 const BundleDescription& student, TaskType task,
                                 const torch::Device& device, const DeviceOptions& options)
    : teachers_(std::make_unique<Teachers>()) {
    if (task == TaskType::MultiLabel)
        throw Error(
            "--distill learns from the probabilities of one class per case; this task is "
            "multi-label: leave it out");
    const VitSpec& s = student.model;
    const KeepRandomState keep;
    for (const std::string& path : bundlePaths) {
        LoadedBundle teacher = loadBundle(path);
        const BundleDescription& d = teacher.description;
        const VitSpec& t = d.model;
        auto refuse = [&](const std::string& why) {
            throw FileError(path, "cannot teach this run: " + why +
                                      ". Distil from bundles trained on the same data set.");
        };
        if (t.image_size != s.image_size || t.channels != s.channels ||
            t.volumetric != s.volumetric)
            refuse("it takes " + std::to_string(t.image_size) + " px " +
                   (t.volumetric ? "3D" : "2D") + " input with " + std::to_string(t.channels) +
                   " channel(s), the student " + std::to_string(s.image_size) + " px " +
                   (s.volumetric ? "3D" : "2D") + " with " + std::to_string(s.channels));
        if (t.classes != s.classes)
            refuse("it has " + std::to_string(t.classes) + " classes, the data set " +
                   std::to_string(s.classes));
        if (parseTaskType(d.task) != task) refuse("it was trained for the task " + d.task);
        // Same shape and count is not the same data set: PneumoniaMNIST's
        // "normal, pneumonia" would teach BreastMNIST's "malignant, benign".
        if (!d.class_names.empty() && !student.class_names.empty() &&
            d.class_names != student.class_names)
            refuse("its classes are " + joinedNames(d.class_names) + ", this data set's " +
                   joinedNames(student.class_names));
        if (d.input.scale != student.input.scale || d.input.mean != student.input.mean ||
            d.input.std != student.input.std)
            refuse("it normalises its input otherwise than this run");
        placeModel(*teacher.model, device, options);
        teacher.model->eval();
        for (auto& p : teacher.model->parameters()) p.set_requires_grad(false);
        teachers_->models.push_back(teacher.model);
    }
    if (teachers_->models.empty()) throw Error("--distill needs at least one bundle");
}

bool TeacherEnsemble::empty() const {
    return !teachers_ || teachers_->models.empty();
}

torch::Tensor TeacherEnsemble::probabilities(const torch::Tensor& x, double temperature) const {
    if (empty()) throw Error("no teacher to distil from");
    torch::NoGradGuard noGrad;
    torch::Tensor sum;
    for (Classifier model : teachers_->models) {  // a handle; forward is not const
        const auto p = torch::softmax(model->forward(x) / temperature, 1);
        sum = sum.defined() ? sum + p : p;
    }
    return sum / double(teachers_->models.size());
}

}  // namespace rllm
