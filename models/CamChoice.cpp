// rllm cam-choose: which CAM recipe `auto` gives on one model, measured on
// real cases (Engine.h, chooseCamRecipe).
#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamEvaluation.h"
#include "models/CamMethods.h"
#include "models/Engine.h"

#include <cmath>
#include <filesystem>

namespace rllm {

double CamCandidate::lerfMinusMorf() const {
    if (std::isnan(scores.roadLerfAuc) || std::isnan(scores.roadMorfAuc)) return 0;
    return scores.roadLerfAuc - scores.roadMorfAuc;
}

bool CamCandidate::faithful() const {
    if (!unavailable.empty()) return false;
    const bool road = !std::isnan(scores.roadLerfAuc) && !std::isnan(scores.roadMorfAuc);
    return insertionMinusDeletion() > 0 && (!road || lerfMinusMorf() > 0);
}

namespace {

// Every recipe worth measuring on `d`: the phantom rule first (so that on a
// tie it stays), then each method that takes a layer at every layer, then
// rollout. booster:input is left out: it names the last block's output.
CamCandidate candidate(const std::string& method, const std::string& layer, int shifts) {
    CamCandidate c;
    c.method = method;
    c.layer = layer;
    c.shifts = shifts;
    return c;
}

std::vector<CamCandidate> candidatesFor(const BundleDescription& d) {
    std::vector<CamCandidate> out;
    BundleDescription unchosen = d;
    unchosen.explanation.reset();
    const CamRecipe phantomRule = resolveCamRecipe("auto", "", 0, unchosen);
    out.push_back(candidate(phantomRule.method, phantomRule.layer, phantomRule.shifts));
    for (const CamMethodInfo& info : camMethods()) {
        if (info.method == CamMethod::Auto) continue;
        if (!info.takesLayer) {
            out.push_back(candidate(info.key, kRolloutLayer, 1));
            continue;
        }
        for (const std::string& layer : camLayerNamesFor(d))
            if (layer != "booster:input") out.push_back(candidate(info.key, layer, 1));
    }
    // The phantom rule appears once.
    for (size_t i = 1; i < out.size(); ++i)
        if (out[i].method == out[0].method && out[i].layer == out[0].layer &&
            out[i].shifts == out[0].shifts) {
            out.erase(out.begin() + long(i));
            break;
        }
    return out;
}

}  // namespace

CamChoiceSummary measureCamRecipes(LoadedBundle& bundle, const CamEvalCases& cases,
                                   const CamChoiceOptions& o) {
    if (cases.split == "test")
        throw Error(
            "the choice is part of the model: make it on the val (or train) split, "
            "never on test");
    CamChoiceSummary summary;
    summary.candidates = candidatesFor(bundle.description);
    const int total = static_cast<int>(summary.candidates.size());
    for (int k = 0; k < total; ++k) {
        CamCandidate& c = summary.candidates[k];
        CamEvalOptions e;
        e.method = c.method;
        e.layer = c.layer == kRolloutLayer ? std::string() : c.layer;
        e.shifts = c.shifts;
        e.steps = o.steps;
        e.roadSteps = o.roadSteps;
        e.maxCases = o.maxCases;
        e.device = o.device;
        e.cancel = o.cancel;
        try {
            c.scores = evaluateCams(bundle, cases, e);
        } catch (const FileError&) {
            throw;  // the data: no candidate could be measured
        } catch (const Error& error) {
            if (o.cancel && o.cancel->load()) throw;
            // A recipe this model cannot give (e.g. a gradient at the last
            // block of a baseline, whose patch tokens never reach the head).
            c.unavailable = error.what();
        }
        if (o.progress) o.progress(k + 1, total);
    }
    auto margin = [](const CamCandidate& c) {
        return c.insertionMinusDeletion() + c.lerfMinusMorf();
    };
    for (size_t i = 0; i < summary.candidates.size(); ++i) {
        const CamCandidate& c = summary.candidates[i];
        if (c.faithful() &&
            (summary.chosen < 0 || margin(c) > margin(summary.candidates[summary.chosen])))
            summary.chosen = static_cast<int>(i);
    }
    return summary;
}

std::optional<ExplanationChoice> explanationOf(const CamChoiceSummary& summary,
                                               const CamEvalCases& cases) {
    if (summary.chosen < 0) return std::nullopt;
    const CamCandidate& best = summary.candidates[summary.chosen];
    ExplanationChoice choice;
    choice.method = best.method;
    choice.layer = best.layer;
    choice.shifts = best.shifts;
    choice.data = std::filesystem::path(cases.data.path()).filename().string();
    choice.split = cases.split;
    choice.cases = best.scores.cases;
    choice.insertion_minus_deletion = best.insertionMinusDeletion();
    choice.lerf_minus_morf = best.lerfMinusMorf();
    return choice;
}

CamChoiceSummary chooseCamRecipe(LoadedBundle& bundle, const CamEvalCases& cases,
                                 const CamChoiceOptions& o) {
    CamChoiceSummary summary = measureCamRecipes(bundle, cases, o);
    if (auto choice = explanationOf(summary, cases)) bundle.description.explanation = *choice;
    return summary;
}

CamChoiceSummary chooseCamRecipe(const std::string& bundlePath, const std::string& dataPath,
                                 const std::string& outPath, const CamChoiceOptions& o) {
    namespace fs = std::filesystem;
    std::error_code ignored;
    if (outPath.empty() || fs::equivalent(bundlePath, outPath, ignored))
        throw Error("cam-choose writes a new bundle: give --out another file than " + bundlePath);
    LoadedBundle bundle = loadBundle(bundlePath);
    const CamChoiceSummary summary = chooseCamRecipe(bundle, CamEvalCases(dataPath, o.split), o);
    if (summary.chosen >= 0) saveBundle(bundle.model, bundle.description, outPath);
    return summary;
}

}  // namespace rllm
