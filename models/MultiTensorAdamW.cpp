#include "MultiTensorAdamW.h"

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace rllm {
namespace {

// LibTorch keeps an optimizer's per-parameter state in a map keyed by the
// parameter's TensorImpl: its address as text up to 2.x, the address itself
// in later versions (its own serialisation keys it the same way); this is
// the one place that knows.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::AdamW&>().state())>::key_type;

template <class Key = StateKey>
Key stateKey(const torch::Tensor& parameter) {
    if constexpr (std::is_same_v<Key, std::string>) {
        std::ostringstream text;  // as LibTorch 1.x writes it (c10::guts::to_string)
        text << parameter.unsafeGetTensorImpl();
        return text.str();
    } else
        return static_cast<Key>(parameter.unsafeGetTensorImpl());
}

// The tensors of one group whose states stand at the same step count (in a
// training run, all of them): one set of foreach calls updates them.
struct Bucket {
    std::vector<torch::Tensor> parameters, gradients, averages, squaredAverages;
};

void update(Bucket& b, int64_t step, const torch::optim::AdamWOptions& o) {
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    // The order of AdamW::step: decay, moments, then the bias-corrected step.
    if (o.weight_decay() != 0) at::_foreach_mul_(b.parameters, 1 - o.lr() * o.weight_decay());
    at::_foreach_mul_(b.averages, beta1);
    at::_foreach_add_(b.averages, b.gradients, 1 - beta1);
    at::_foreach_mul_(b.squaredAverages, beta2);
    at::_foreach_addcmul_(b.squaredAverages, b.gradients, b.gradients, 1 - beta2);
    std::vector<torch::Tensor> denominators = at::_foreach_sqrt(b.squaredAverages);
    at::_foreach_div_(denominators, std::sqrt(1 - std::pow(beta2, double(step))));
    at::_foreach_add_(denominators, o.eps());
    at::_foreach_addcdiv_(b.parameters, b.averages, denominators,
                          -o.lr() / (1 - std::pow(beta1, double(step))));
}

}  // namespace

torch::optim::AdamWParamState* adamWState(torch::optim::AdamW& optimizer,
                                          const torch::Tensor& parameter) {
    auto& states = optimizer.state();
    auto found = states.find(stateKey(parameter));
    return found == states.end() ? nullptr
                                 : static_cast<torch::optim::AdamWParamState*>(found->second.get());
}

torch::optim::AdamWParamState& setAdamWState(torch::optim::AdamW& optimizer,
                                             const torch::Tensor& parameter, int64_t step,
                                             const torch::Tensor& expAvg,
                                             const torch::Tensor& expAvgSq) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(step);
    s->exp_avg(expAvg);
    s->exp_avg_sq(expAvgSq);
    auto& slot = optimizer.state()[stateKey(parameter)];
    slot = std::move(s);
    return static_cast<torch::optim::AdamWParamState&>(*slot);
}

void stepAdamWMultiTensor(torch::optim::AdamW& optimizer) {
    torch::NoGradGuard noGrad;
    for (auto& group : optimizer.param_groups()) {
        const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
        if (options.amsgrad())
            throw std::invalid_argument("stepAdamWMultiTensor: AMSGrad is not implemented");
        std::map<int64_t, Bucket> buckets;
        for (auto& p : group.params()) {
            if (!p.grad().defined()) continue;
            if (p.grad().is_sparse())
                throw std::invalid_argument("stepAdamWMultiTensor: sparse gradients");
            auto* s = adamWState(optimizer, p);
            if (!s)
                s = &setAdamWState(optimizer, p, 0,
                                   torch::zeros_like(p, at::MemoryFormat::Preserve),
                                   torch::zeros_like(p, at::MemoryFormat::Preserve));
            s->step(s->step() + 1);
            Bucket& b = buckets[s->step()];
            b.parameters.push_back(p);
            b.gradients.push_back(p.grad());
            b.averages.push_back(s->exp_avg());
            b.squaredAverages.push_back(s->exp_avg_sq());
        }
        for (auto& [step, bucket] : buckets) update(bucket, step, options);
    }
}

void stepAdamW(torch::optim::AdamW& optimizer) {
    for (const auto& group : optimizer.param_groups())
        for (const auto& p : group.params())
            if (p.grad().defined()) {
                if (p.is_cuda())
                    stepAdamWMultiTensor(optimizer);
                else
                    optimizer.step();
                return;
            }
}

}  // namespace rllm
