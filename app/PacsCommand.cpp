// rllm pacs: the viewer's PACS client from the command line. Nodes are
// given as AET@host:port or by the name they were saved under (the same
// list the viewer's PACS browser keeps).

#include "app/CliSupport.h"
#include "app/Commands.h"
#include "core/Error.h"
#include "core/io/Dicom.h"
#include "core/pacs/Dimse.h"
#include "core/pacs/PacsNode.h"
#include "core/pacs/ResultObjects.h"
#include "core/pacs/Retrieve.h"
#include "core/pacs/SeriesCache.h"
#include "core/pacs/StorageServer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <limits>

#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace rllm::cli {
namespace {

const char* kUsage = R"(Usage: rllm pacs SUBCOMMAND NODE [OPTIONS]

  echo NODE                      C-ECHO: does the node answer, and accept us?
  find NODE [query options]      C-FIND at patient, study or series level
  get NODE --study UID [--series UID] --out CACHE_DIR [--move]
                                 retrieve into a cache folder (<study>/<series>/)
                                 by C-GET, or by C-MOVE to a storage SCP this
                                 command runs (--port, our AE title must be
                                 known to the node)
  store NODE PATH... [--pdf REPORT.pdf --study-of DICOM_FILE]
                                 C-STORE files and folders (recursively); --pdf
                                 sends the report as Encapsulated PDF in the
                                 study of DICOM_FILE
  nodes [--add NAME AET@host:port] [--remove NAME]
                                 list, save or forget nodes (the viewer's list)

NODE: AET@host:port, or a saved node's name.
Common options:
  --aet TITLE       our (calling) AE title (default: the node's, else RLLMVIEWER)
  --timeout S       seconds for connecting and for each message (default 10)
  --json            machine-readable output on stdout
  --tls             DICOM TLS; --tls-trusted CA.pem (default: the system's CAs),
                    --tls-cert CERT.pem --tls-key KEY.pem (ours, if the archive asks),
                    --no-verify (do not check the archive's certificate)
Saving a node (nodes --add) also takes --storage-port P, --dicomweb URL,
  --user U --password P (DICOMweb basic authentication).
Query options (find):
  --level patient|study|series   (default study)
  --patient-name PATTERN --patient-id PATTERN   (* and ? wildcards)
  --date YYYYMMDD-YYYYMMDD  (either end may be empty) --modality M
  --accession A --study UID (series level: the study to list) --limit N (5000)
Retrieve options (get):
  --move --port P   C-MOVE to a storage SCP on port P (default: the node's storage port)
Results as DICOM: 'rllm cam BUNDLE SERIES --out CAM.nii.gz --dicom DIR' writes a
CAM as a Secondary Capture series and a Parametric Map in the study of SERIES;
'rllm pacs store NODE DIR' sends them.
Exit status: 0 success, 1 failure (nothing or not everything done), 2 usage error.
)";

void applyTlsOptions(const ParsedArgs& p, PacsNode& node) {
    if (p.has("tls")) node.useTls = true;
    if (p.has("tls-trusted")) node.tlsTrustedCertificates = p.get("tls-trusted");
    if (p.has("tls-cert")) node.tlsCertificate = p.get("tls-cert");
    if (p.has("tls-key")) node.tlsPrivateKey = p.get("tls-key");
    if (p.has("no-verify")) node.verifyTlsPeer = false;
}

PacsNode nodeFrom(const ParsedArgs& p, size_t index) {
    if (p.positional.size() <= index) throw UsageError(std::string("expected NODE\n") + kUsage);
    PacsNode node =
        resolveNode(p.positional[index], PacsNodeList::load(PacsNodeList::defaultPath()));
    if (p.has("aet")) node.callingAeTitle = p.get("aet");
    if (p.has("timeout")) node.timeoutSeconds = static_cast<int>(p.getInt("timeout", 10));
    applyTlsOptions(p, node);
    if (std::string problem = nodeProblem(node); !problem.empty()) throw UsageError(problem);
    return node;
}

json matchJson(const QueryMatch& m) {
    json j{{"level", queryLevelName(m.level)},
           {"patientName", m.patientName},
           {"patientId", m.patientId}};
    auto add = [&](const char* key, const std::string& value) {
        if (!value.empty()) j[key] = value;
    };
    add("patientBirthDate", m.patientBirthDate);
    add("patientSex", m.patientSex);
    add("studyInstanceUid", m.studyInstanceUid);
    add("studyDate", m.studyDate);
    add("studyTime", m.studyTime);
    add("studyDescription", m.studyDescription);
    add("accessionNumber", m.accessionNumber);
    add("modalitiesInStudy", m.modalitiesInStudy);
    add("seriesInstanceUid", m.seriesInstanceUid);
    add("seriesNumber", m.seriesNumber);
    add("seriesDescription", m.seriesDescription);
    add("modality", m.modality);
    if (m.studies >= 0) j["studies"] = m.studies;
    if (m.series >= 0) j["series"] = m.series;
    if (m.instances >= 0) j["instances"] = m.instances;
    return j;
}

json transferJson(const TransferProgress& t) {
    return json{{"completed", t.completed}, {"failed", t.failed}, {"warnings", t.warnings}};
}

int runEcho(const ParsedArgs& p) {
    const PacsNode node = nodeFrom(p, 1);
    DimseClient(node).echo();
    if (p.has("json"))
        std::cout << json{{"node", node.address()}, {"echo", "ok"}}.dump(2) << "\n";
    else
        std::cout << node.address() << " answered C-ECHO.\n";
    return kOk;
}

int runFind(const ParsedArgs& p) {
    const PacsNode node = nodeFrom(p, 1);
    const std::string levelName = p.get("level", "study");
    QueryLevel level;
    if (levelName == "patient")
        level = QueryLevel::Patient;
    else if (levelName == "study")
        level = QueryLevel::Study;
    else if (levelName == "series")
        level = QueryLevel::Series;
    else
        throw UsageError("--level must be patient, study or series");
    QueryKeys keys;
    keys.patientName = p.get("patient-name");
    keys.patientId = p.get("patient-id");
    keys.modality = p.get("modality");
    keys.accessionNumber = p.get("accession");
    keys.studyInstanceUid = p.get("study");
    if (p.has("date")) {
        const std::string date = p.get("date");
        const auto dash = date.find('-');
        keys.studyDateFrom = date.substr(0, dash);
        keys.studyDateTo = dash == std::string::npos ? keys.studyDateFrom : date.substr(dash + 1);
        for (const std::string& d : {keys.studyDateFrom, keys.studyDateTo})
            if (!d.empty() && (d.size() != 8 || !std::all_of(d.begin(), d.end(), [](char c) {
                                   return c >= '0' && c <= '9';
                               })))
                throw UsageError(
                    "--date takes YYYYMMDD, YYYYMMDD-YYYYMMDD, -YYYYMMDD or YYYYMMDD-");
    }
    if (level == QueryLevel::Series && keys.studyInstanceUid.empty())
        throw UsageError("--level series needs --study UID");
    const int limit = static_cast<int>(p.getInt("limit", 5000));
    if (limit < 1) throw UsageError("--limit must be at least 1");
    const QueryResult result = DimseClient(node).find(level, keys, limit);
    if (p.has("json")) {
        json matches = json::array();
        for (const QueryMatch& m : result.matches) matches.push_back(matchJson(m));
        std::cout << json{{"node", node.address()},
                          {"level", queryLevelName(level)},
                          {"matches", matches},
                          {"truncated", result.truncated}}
                         .dump(2)
                  << "\n";
        return kOk;
    }
    for (const QueryMatch& m : result.matches) {
        if (level == QueryLevel::Patient)
            std::cout << m.patientId << "  " << m.patientName << "  " << m.patientBirthDate
                      << "  studies: " << m.studies << "\n";
        else if (level == QueryLevel::Study)
            std::cout << m.studyDate << "  " << m.patientName << " (" << m.patientId << ")  "
                      << m.studyDescription << "  [" << m.modalitiesInStudy
                      << "]  series: " << m.series << "  images: " << m.instances << "\n  "
                      << m.studyInstanceUid << "\n";
        else
            std::cout << m.seriesNumber << "  " << m.modality << "  " << m.seriesDescription
                      << "  images: " << m.instances << "\n  " << m.seriesInstanceUid << "\n";
    }
    std::cout << result.matches.size() << " match(es)"
              << (result.truncated ? " (more matched; raise --limit or narrow the query)" : "")
              << ".\n";
    return kOk;
}

int runGet(const ParsedArgs& p) {
    const PacsNode node = nodeFrom(p, 1);
    if (!p.has("study") || !p.has("out"))
        throw UsageError(std::string("get needs --study UID and --out CACHE_DIR\n") + kUsage);
    const std::string study = p.get("study");
    const bool move = p.has("move");
    DimseClient client(node);
    // Which series, and how many images each should have.
    QueryKeys keys;
    keys.studyInstanceUid = study;
    if (!isValidUid(study)) throw UsageError("--study '" + study + "' is not a DICOM UID");
    std::vector<QueryMatch> series = client.find(QueryLevel::Series, keys).matches;
    if (p.has("series")) {
        const std::string wanted = p.get("series");
        series.erase(
            std::remove_if(series.begin(), series.end(),
                           [&](const QueryMatch& m) { return m.seriesInstanceUid != wanted; }),
            series.end());
    }
    if (series.empty())
        throw Error(node.address() + " has no " + (p.has("series") ? "such series" : "series") +
                    " in study " + study);
    SeriesCache cache(p.get("out"), std::numeric_limits<int64_t>::max());
    std::unique_ptr<StorageServer> server;
    if (move) {
        StorageServerOptions options;
        options.aeTitle = node.callingAeTitle;
        options.port = static_cast<int>(p.getInt("port", node.storagePort));
        if (options.port <= 0) throw UsageError("--move needs --port (our storage SCP's port)");
        options.folder = cache.root();
        options.quarantineFolder = cache.quarantineFolder();
        options.timeoutSeconds = node.timeoutSeconds;
        server = std::make_unique<StorageServer>(options);
        server->start();
    }
    json results = json::array();
    bool allComplete = true;
    for (const QueryMatch& m : series) {
        const SeriesRetrieval r = retrieveSeries(
            client, move ? RetrieveMethod::Move : RetrieveMethod::Get, {study, m.seriesInstanceUid},
            m.instances, m.seriesDescription, cache, server.get(), {});
        allComplete = allComplete && r.complete;
        results.push_back({{"seriesInstanceUid", m.seriesInstanceUid},
                           {"seriesDescription", m.seriesDescription},
                           {"folder", r.folder},
                           {"instances", r.instances},
                           {"expectedInstances", m.instances},
                           {"complete", r.complete},
                           {"fromCache", r.fromCache},
                           {"transfer", transferJson(r.transfer.progress)},
                           {"message", r.message}});
        if (!p.has("json"))
            std::cout << (r.complete ? "complete  " : "INCOMPLETE  ") << r.instances << "/"
                      << m.instances << "  " << m.seriesDescription << "  " << r.folder
                      << (r.fromCache ? "  (from the cache)" : "") << "\n"
                      << (r.message.empty() ? "" : "  " + r.message + "\n");
    }
    if (server) server->stop();
    if (p.has("json"))
        std::cout << json{{"node", node.address()},
                          {"method", move ? "C-MOVE" : "C-GET"},
                          {"study", study},
                          {"series", results},
                          {"complete", allComplete},
                          {"refusedByStorageScp", server ? server->refusedCount() : 0}}
                         .dump(2)
                  << "\n";
    return allComplete ? kOk : kRuntimeError;
}

// A file given by name is sent as it is (and refused with a message if it
// is not DICOM); from a folder only DICOM Part 10 files go (a cache folder
// also holds its manifest).
std::vector<std::string> dicomFilesUnder(const std::string& path) {
    std::vector<std::string> files;
    if (fs::is_directory(path)) {
        for (const auto& entry : fs::recursive_directory_iterator(path))
            if (entry.is_regular_file() && looksLikeDicomFile(entry.path().string()))
                files.push_back(entry.path().string());
        std::sort(files.begin(), files.end());
    } else if (fs::exists(path)) {
        files.push_back(path);
    } else {
        throw FileError(path, "does not exist.");
    }
    return files;
}

// A temporary folder removed however the command ends.
struct TemporaryFolder {
    fs::path path;
    ~TemporaryFolder() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
};

int runStore(const ParsedArgs& p) {
    const PacsNode node = nodeFrom(p, 1);
    std::vector<std::string> files;
    for (size_t i = 2; i < p.positional.size(); ++i) {
        const std::vector<std::string> more = dicomFilesUnder(p.positional[i]);
        files.insert(files.end(), more.begin(), more.end());
    }
    TemporaryFolder temporary;
    if (p.has("pdf")) {
        if (!p.has("study-of")) throw UsageError("--pdf needs --study-of DICOM_FILE");
        temporary.path = fs::temp_directory_path() / ("rllm-pdf-" + std::to_string(::getpid()));
        fs::create_directories(temporary.path);
        ResultSeriesInfo info;
        info.sourceFile = p.get("study-of");
        info.description = "R-LLM comparison report";
        info.seriesNumber = 9100;
        const std::string out = (temporary.path / "report.dcm").string();
        writeEncapsulatedPdf(info, p.get("pdf"), "R-LLM Viewer comparison report", out);
        files.push_back(out);
    }
    if (files.empty()) throw UsageError(std::string("nothing to store\n") + kUsage);
    const TransferResult r = DimseClient(node).store(files, {});
    if (p.has("json"))
        std::cout << json{{"node", node.address()},
                          {"sent", r.progress.completed},
                          {"failed", r.progress.failed},
                          {"complete", r.complete},
                          {"message", r.message}}
                         .dump(2)
                  << "\n";
    else
        std::cout << r.progress.completed << " of " << files.size() << " object(s) stored on "
                  << node.address() << ".\n"
                  << (r.message.empty() ? "" : r.message + "\n");
    return r.complete ? kOk : kRuntimeError;
}

int runNodes(const ParsedArgs& p) {
    const std::string path = PacsNodeList::defaultPath();
    PacsNodeList list = PacsNodeList::load(path);
    if (p.has("add")) {
        if (p.positional.size() != 2) throw UsageError("nodes --add NAME AET@host:port");
        PacsNode node = parseNodeAddress(p.positional[1]);
        node.name = p.get("add");
        if (p.has("aet")) node.callingAeTitle = p.get("aet");
        if (p.has("timeout")) node.timeoutSeconds = static_cast<int>(p.getInt("timeout", 10));
        if (p.has("storage-port")) node.storagePort = static_cast<int>(p.getInt("storage-port", 0));
        node.dicomWebUrl = p.get("dicomweb");
        node.username = p.get("user");
        node.password = p.get("password");
        applyTlsOptions(p, node);
        if (std::string problem = nodeProblem(node); !problem.empty()) throw UsageError(problem);
        list.put(node);
        list.save(path);
    } else if (p.has("remove")) {
        if (!list.remove(p.get("remove")))
            throw Error("no saved node is called '" + p.get("remove") + "'");
        list.save(path);
    }
    json nodes = json::array();
    for (const PacsNode& n : list.nodes()) {
        nodes.push_back({{"name", n.name},
                         {"address", n.address()},
                         {"callingAeTitle", n.callingAeTitle},
                         {"storagePort", n.storagePort},
                         {"timeoutSeconds", n.timeoutSeconds},
                         {"dicomWebUrl", n.dicomWebUrl}});
        if (!p.has("json"))
            std::cout << n.name << "  " << n.address() << "  as " << n.callingAeTitle << "\n";
    }
    if (p.has("json")) std::cout << json{{"file", path}, {"nodes", nodes}}.dump(2) << "\n";
    return kOk;
}

}  // namespace

int runPacs(const std::vector<std::string>& args) {
    const ParsedArgs p =
        parseArgs(args, {"help", "json", "move"},
                  {"aet", "timeout", "level", "patient-name", "patient-id", "date", "modality",
                   "accession", "study", "series", "limit", "out", "port", "pdf", "study-of", "add",
                   "remove", "storage-port", "dicomweb"});
    if (p.has("help") || p.positional.empty()) {
        (p.has("help") ? std::cout : std::cerr) << kUsage;
        return p.has("help") ? kOk : kUsageError;
    }
    const std::string sub = p.positional[0];
    try {
        if (sub == "echo") return runEcho(p);
        if (sub == "find") return runFind(p);
        if (sub == "get") return runGet(p);
        if (sub == "store") return runStore(p);
        if (sub == "nodes") return runNodes(p);
    } catch (const PacsError& e) {
        std::cerr << "rllm pacs " << sub << ": " << e.what() << "\n";
        return kRuntimeError;
    }
    throw UsageError("unknown subcommand '" + sub + "'\n" + kUsage);
}

}  // namespace rllm::cli
