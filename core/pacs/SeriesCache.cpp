#include "core/pacs/SeriesCache.h"

#include "core/io/AtomicFile.h"
#include "core/pacs/Dimse.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace rllm {

namespace {

const char* kManifest = "series.json";

int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void countFiles(CachedSeries& s) {
    s.instances = 0;
    s.bytes = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(s.folder, ec)) {
        if (!entry.is_regular_file(ec)) continue;
        s.bytes += static_cast<int64_t>(entry.file_size(ec));
        if (entry.path().extension() == ".dcm") ++s.instances;
    }
}

}  // namespace

SeriesCache::SeriesCache(std::string root, int64_t limitBytes)
    : root_(std::move(root)), limit_(limitBytes) {}

std::string SeriesCache::seriesFolder(const std::string& study, const std::string& series) const {
    // UIDs become folder names: only well-formed ones, so nothing can climb out of the root.
    if (!isValidUid(study) || !isValidUid(series))
        throw PacsError("'" + study + "' / '" + series + "' are not DICOM UIDs");
    return (fs::path(root_) / study / series).string();
}

std::string SeriesCache::quarantineFolder() const {
    return (fs::path(root_) / "quarantine").string();
}

CachedSeries SeriesCache::lookup(const std::string& study, const std::string& series) const {
    CachedSeries s;
    s.studyInstanceUid = study;
    s.seriesInstanceUid = series;
    s.folder = seriesFolder(study, series);
    if (!fs::is_directory(s.folder)) return s;
    countFiles(s);
    std::ifstream in(fs::path(s.folder) / kManifest);
    if (!in) {
        s.problem = "no manifest: not retrieved by this cache";
        return s;
    }
    try {
        const json j = json::parse(in);
        s.complete = j.value("complete", false);
        s.expectedInstances = j.value("expectedInstances", -1);
        s.lastUsed = j.value("lastUsed", int64_t{0});
        s.description = j.value("description", std::string());
        s.problem = j.value("problem", std::string());
    } catch (const std::exception&) {
        s.complete = false;
        s.problem = "its manifest is damaged";
    }
    // Files deleted behind the cache's back make it incomplete too.
    if (s.complete && s.expectedInstances >= 0 && s.instances != s.expectedInstances) {
        s.complete = false;
        s.problem = std::to_string(s.instances) + " of " + std::to_string(s.expectedInstances) +
                    " files present";
    }
    return s;
}

std::vector<CachedSeries> SeriesCache::list() const {
    std::vector<CachedSeries> all;
    std::error_code ec;
    for (const auto& study : fs::directory_iterator(root_, ec)) {
        if (!study.is_directory(ec) || !isValidUid(study.path().filename().string())) continue;
        for (const auto& series : fs::directory_iterator(study.path(), ec)) {
            if (!series.is_directory(ec) || !isValidUid(series.path().filename().string()))
                continue;
            all.push_back(
                lookup(study.path().filename().string(), series.path().filename().string()));
        }
    }
    return all;
}

int64_t SeriesCache::totalBytes() const {
    int64_t total = 0;
    for (const CachedSeries& s : list()) total += s.bytes;
    return total;
}

void SeriesCache::writeManifest(const CachedSeries& s) const {
    fs::create_directories(s.folder);
    const std::string path = (fs::path(s.folder) / kManifest).string();
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary);
        out << json{{"studyInstanceUid", s.studyInstanceUid},
                    {"seriesInstanceUid", s.seriesInstanceUid},
                    {"complete", s.complete},
                    {"expectedInstances", s.expectedInstances},
                    {"lastUsed", s.lastUsed},
                    {"description", s.description},
                    {"problem", s.problem}}
                   .dump(2)
            << "\n";
    });
}

void SeriesCache::markIncomplete(const std::string& study, const std::string& series,
                                 const std::string& problem, int expectedInstances) {
    CachedSeries s = lookup(study, series);
    s.complete = false;
    s.problem = problem;
    if (expectedInstances >= 0) s.expectedInstances = expectedInstances;
    s.lastUsed = now();
    writeManifest(s);
}

void SeriesCache::markComplete(const std::string& study, const std::string& series,
                               const std::string& description, int expectedInstances) {
    CachedSeries s = lookup(study, series);
    s.complete = true;
    s.problem.clear();
    s.description = description;
    s.expectedInstances = expectedInstances >= 0 ? expectedInstances : s.instances;
    s.lastUsed = now();
    writeManifest(s);
}

void SeriesCache::touch(const std::string& study, const std::string& series) {
    CachedSeries s = lookup(study, series);
    if (!fs::is_directory(s.folder)) return;
    s.lastUsed = now();
    writeManifest(s);
}

void SeriesCache::remove(const std::string& study, const std::string& series) {
    std::error_code ec;
    fs::remove_all(seriesFolder(study, series), ec);
    const fs::path studyFolder = fs::path(root_) / study;
    if (fs::is_empty(studyFolder, ec)) fs::remove(studyFolder, ec);
}

std::vector<std::string> SeriesCache::evict(const std::string& keepStudy,
                                            const std::string& keepSeries) {
    std::vector<CachedSeries> all = list();
    int64_t total = 0;
    for (const CachedSeries& s : all) total += s.bytes;
    std::sort(all.begin(), all.end(),
              [](const CachedSeries& a, const CachedSeries& b) { return a.lastUsed < b.lastUsed; });
    std::vector<std::string> removed;
    for (const CachedSeries& s : all) {
        if (total <= limit_) break;
        if (s.studyInstanceUid == keepStudy && s.seriesInstanceUid == keepSeries) continue;
        remove(s.studyInstanceUid, s.seriesInstanceUid);
        total -= s.bytes;
        removed.push_back(s.folder);
    }
    return removed;
}

}  // namespace rllm
