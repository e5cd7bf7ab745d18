#include "core/CaseSource.h"

#include "core/Error.h"
#include "core/io/MedMnist.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace rllm {

MedMnistCases::MedMnistCases(const std::string& archivePath, const std::string& split,
                             int64_t maxCases)
    : dataset_(std::make_unique<MedMnistDataset>(archivePath)), split_(split) {
    const auto& names = MedMnistDataset::splitNames();
    if (std::find(names.begin(), names.end(), split) == names.end())
        throw Error("unknown split '" + split + "': use train, val or test");
    count_ = dataset_->count(split);
    if (maxCases > 0) count_ = std::min(count_, maxCases);
}

MedMnistCases::~MedMnistCases() = default;

std::string MedMnistCases::id(int64_t index) const {
    return split_ + "/" + std::to_string(index);
}

std::vector<int> MedMnistCases::labels(int64_t index) const {
    return dataset_->labels(split_, index);
}

Volume MedMnistCases::image(int64_t index) const {
    return dataset_->image(split_, index);
}

std::string MedMnistCases::description() const {
    return std::filesystem::path(dataset_->path()).filename().string() + " (" + split_ + ", " +
           std::to_string(count_) + " cases)";
}

std::string MedMnistCases::path() const {
    return dataset_->path();
}

std::vector<std::string> splitCsvLine(const std::string& line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                fields.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                fields.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c != '\r') {
            fields.back() += c;
        }
    }
    return fields;
}

std::vector<LabelledFile> parseLabelsCsv(std::istream& csv, const std::string& csvPath,
                                         const std::vector<std::string>& classNames) {
    namespace fs = std::filesystem;
    std::string line;
    std::getline(csv, line);
    const std::vector<std::string> header = splitCsvLine(line);
    const auto column = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        if (it == header.end())
            throw FileError(csvPath, "has no '" + name + "' column in its header row.",
                            "The first row must name the columns file and label.");
        return static_cast<size_t>(it - header.begin());
    };
    const size_t fileColumn = column("file"), labelColumn = column("label");
    std::vector<LabelledFile> rows;
    for (int row = 2; std::getline(csv, line); ++row) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::vector<std::string> fields = splitCsvLine(line);
        const std::string where = "row " + std::to_string(row);
        if (fields.size() <= std::max(fileColumn, labelColumn))
            throw FileError(csvPath, where + " has too few columns.");
        const std::string& file = fields[fileColumn];
        const std::string& text = fields[labelColumn];
        int label = -1;
        const auto named = std::find(classNames.begin(), classNames.end(), text);
        if (named != classNames.end()) {
            label = static_cast<int>(named - classNames.begin());
        } else if (!text.empty() && text.size() < 9 &&
                   text.find_first_not_of("0123456789") == std::string::npos) {
            label = std::stoi(text);
        }
        if (label < 0 || (!classNames.empty() && label >= static_cast<int>(classNames.size())))
            throw FileError(csvPath, where + ": label '" + text +
                                         "' is neither a class index below " +
                                         std::to_string(classNames.size()) +
                                         " nor one of the models' class names.");
        // Only names inside the folder: a labels file must not reach elsewhere.
        if (file.empty() || fs::path(file).is_absolute() || file.find("..") != std::string::npos)
            throw FileError(csvPath,
                            where + ": '" + file + "' is not a file name inside the folder.");
        rows.push_back({file, label});
    }
    if (rows.empty()) throw FileError(csvPath, "lists no images.");
    return rows;
}

FolderCases::FolderCases(const std::string& folder, const std::vector<std::string>& classNames,
                         Reader reader)
    : folder_(folder), reader_(std::move(reader)) {
    const std::string csvPath = (std::filesystem::path(folder) / "labels.csv").string();
    std::ifstream csv(csvPath);
    if (!csv)
        throw FileError(folder, "has no labels.csv.",
                        "Add one with the columns file,label (a class index or name per image).");
    for (const LabelledFile& row : parseLabelsCsv(csv, csvPath, classNames)) {
        files_.push_back(row.file);
        labels_.push_back(row.label);
    }
}

Volume FolderCases::image(int64_t index) const {
    return reader_((std::filesystem::path(folder_) / files_.at(index)).string());
}

std::string FolderCases::description() const {
    return std::filesystem::path(folder_).filename().string() + " (" +
           std::to_string(files_.size()) + " images)";
}

}  // namespace rllm
