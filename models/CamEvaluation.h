#pragma once
// The in-memory side of evaluateCams and chooseCamRecipe (Engine.h): a model
// already loaded and a split already read, so that scoring many CAM recipes
// on one model (cam-choose, train --choose-cam) reads and decompresses the
// bundle and the archive once, not once per recipe.

#include "core/io/MedMnist.h"
#include "core/io/Npz.h"
#include "models/Bundle.h"
#include "models/Engine.h"

#include <optional>
#include <string>

namespace rllm {

// One split of a MedMNIST archive and, where the archive has them, its
// lesion masks (<split>_masks).
struct CamEvalCases {
    CamEvalCases(const std::string& dataPath, const std::string& split);
    std::string split;
    MedMnistDataset data;
    std::optional<NpyArray> masks;
};

// evaluateCams on `cases` (options.split is not read: the cases are that
// split). Throws FileError when the cases do not fit the bundle's input.
CamEvalSummary evaluateCams(LoadedBundle& bundle, const CamEvalCases& cases,
                            const CamEvalOptions& options);

// Every candidate of chooseCamRecipe measured on `cases` and the most
// faithful one marked (summary.chosen), without changing `bundle`.
CamChoiceSummary measureCamRecipes(LoadedBundle& bundle, const CamEvalCases& cases,
                                   const CamChoiceOptions& options);
// What a bundle records of summary's chosen map; nothing when none passed.
std::optional<ExplanationChoice> explanationOf(const CamChoiceSummary& summary,
                                               const CamEvalCases& cases);

// chooseCamRecipe without files: on success `bundle.description.explanation`
// holds the choice (the caller saves it); otherwise it is left as it was.
// options.split is not read either.
CamChoiceSummary chooseCamRecipe(LoadedBundle& bundle, const CamEvalCases& cases,
                                 const CamChoiceOptions& options);

}  // namespace rllm
