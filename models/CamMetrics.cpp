// Faithfulness of a CAM: the deletion and insertion curves of the explained
// class's probability.
#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#include "models/ModelInput.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

DeletionInsertion deletionInsertion(Classifier& model, TaskType task, const torch::Tensor& image,
                                    const torch::Tensor& map, int target, int steps) {
    if (steps < 2) throw Error("the deletion/insertion curves need at least 2 steps");
    torch::NoGradGuard noGrad;
    torch::Tensor order = map.flatten().argsort(0, true);
    const int64_t channels = image.size(1), pixels = map.numel();
    torch::Tensor flat = image.reshape({channels, pixels});
    // "Removed" pixels take the image's mean value per channel. A blurred
    // copy (RISE's insertion start) keeps too much: on 28 px images a
    // blurred lesion is still a bright blob the model detects, and both
    // curves then stay flat whatever the map says.
    torch::Tensor removed = flat.mean(1, true).expand({channels, pixels});
    std::vector<torch::Tensor> deleted, inserted;
    for (int k = 0; k <= steps; ++k) {
        const int64_t count = pixels * k / steps;
        torch::Tensor chosen = torch::zeros({pixels}, torch::kBool).to(image.device());
        if (count > 0) chosen.index_fill_(0, order.narrow(0, 0, count), true);
        deleted.push_back(torch::where(chosen, removed, flat).reshape(image.sizes().slice(1)));
        inserted.push_back(torch::where(chosen, flat, removed).reshape(image.sizes().slice(1)));
    }
    auto area = [&](const std::vector<torch::Tensor>& batch) {
        auto logits = model->forward(torch::stack(batch));
        auto p = task == TaskType::MultiLabel ? torch::sigmoid(logits) : torch::softmax(logits, 1);
        auto curve = p.select(1, target);
        // Trapezoid rule over x in [0, 1].
        return ((curve.sum() - 0.5 * (curve[0] + curve[-1])) / steps).item<double>();
    };
    return {area(deleted), area(inserted)};
}

}  // namespace rllm
