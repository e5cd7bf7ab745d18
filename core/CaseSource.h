#pragma once
// A labelled set of cases to run models over: a split of a MedMNIST archive,
// or a folder of images with a labels CSV, so that cohort comparisons are not
// limited to MedMNIST.

#include "core/Volume.h"

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace rllm {

class MedMnistDataset;

class CaseSource {
  public:
    virtual ~CaseSource() = default;
    virtual int64_t count() const = 0;
    // Stable and readable: "test/17", or the image's file name.
    virtual std::string id(int64_t index) const = 0;
    // One class index (binary, multi-class, ordinal) or one 0/1 per label.
    virtual std::vector<int> labels(int64_t index) const = 0;
    // Throws FileError naming the file when the case cannot be read.
    virtual Volume image(int64_t index) const = 0;
    // The data set as the user named it, e.g. "breastmnist.npz (test)".
    virtual std::string description() const = 0;
    // The archive or folder path.
    virtual std::string path() const = 0;
};

class MedMnistCases : public CaseSource {
  public:
    // Throws FileError for a bad archive or an unknown split.
    MedMnistCases(const std::string& archivePath, const std::string& split, int64_t maxCases = 0);
    ~MedMnistCases() override;
    int64_t count() const override { return count_; }
    std::string id(int64_t index) const override;
    std::vector<int> labels(int64_t index) const override;
    Volume image(int64_t index) const override;
    std::string description() const override;
    std::string path() const override;
    const MedMnistDataset& dataset() const { return *dataset_; }
    const std::string& split() const { return split_; }

  private:
    std::unique_ptr<MedMnistDataset> dataset_;
    std::string split_;
    int64_t count_ = 0;
};

// A folder holding images and `labels.csv`: a header row naming the columns
// `file` and `label`, then one row per image. A label is a class index from
// 0 or one of `classNames` exactly (quote names holding commas). Images are
// read by `reader` (the medical readers where the build has them), lazily.
class FolderCases : public CaseSource {
  public:
    using Reader = std::function<Volume(const std::string& path)>;
    // Throws FileError naming labels.csv and the row for anything it cannot use.
    FolderCases(const std::string& folder, const std::vector<std::string>& classNames,
                Reader reader);
    int64_t count() const override { return static_cast<int64_t>(files_.size()); }
    std::string id(int64_t index) const override { return files_.at(index); }
    std::vector<int> labels(int64_t index) const override { return {labels_.at(index)}; }
    Volume image(int64_t index) const override;
    std::string description() const override;
    std::string path() const override { return folder_; }

  private:
    std::string folder_;
    std::vector<std::string> files_;
    std::vector<int> labels_;
    Reader reader_;
};

// Splits one CSV line into fields; double quotes protect commas and "" is a quote.
std::vector<std::string> splitCsvLine(const std::string& line);

struct LabelledFile {
    std::string file;  // relative to the folder
    int label = 0;
};
// Reads a labels CSV (see FolderCases) from `in`; `csvPath` names it in errors.
// Throws FileError naming the row for anything it cannot use.
std::vector<LabelledFile> parseLabelsCsv(std::istream& in, const std::string& csvPath,
                                         const std::vector<std::string>& classNames);

}  // namespace rllm
