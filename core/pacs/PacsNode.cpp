#include "core/pacs/PacsNode.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace rllm {

std::string PacsNode::address() const {
    return aeTitle + "@" + host + ":" + std::to_string(port);
}

namespace {

std::string aeTitleProblem(const std::string& title) {
    if (title.empty()) return "an AE title is empty";
    if (title.size() > 16) return "AE title '" + title + "' is longer than 16 characters";
    for (char c : title)
        if (c < 0x20 || c > 0x7e || c == '\\')
            return "AE title '" + title + "' holds a character DICOM does not allow";
    return {};
}

}  // namespace

std::string nodeProblem(const PacsNode& node) {
    if (std::string p = aeTitleProblem(node.aeTitle); !p.empty()) return p;
    if (std::string p = aeTitleProblem(node.callingAeTitle); !p.empty()) return p;
    if (node.host.empty()) return "the host is empty";
    if (node.port < 1 || node.port > 65535)
        return "port " + std::to_string(node.port) + " is not in 1..65535";
    if (node.storagePort < 0 || node.storagePort > 65535)
        return "storage port " + std::to_string(node.storagePort) + " is not in 0..65535";
    if (node.timeoutSeconds < 1) return "the time-out must be at least 1 second";
    if (node.tlsCertificate.empty() != node.tlsPrivateKey.empty())
        return "a TLS certificate needs its private key, and the other way round";
    return {};
}

PacsNode parseNodeAddress(const std::string& text) {
    const auto at = text.find('@');
    const auto colon = text.rfind(':');
    if (at == std::string::npos || colon == std::string::npos || colon < at)
        throw Error("'" + text + "' is not a node: give AET@host:port or a saved node's name");
    PacsNode node;
    node.aeTitle = text.substr(0, at);
    node.host = text.substr(at + 1, colon - at - 1);
    const std::string port = text.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || value < 1 || value > 65535)
        throw Error("'" + text + "': port '" + port + "' is not a number in 1..65535");
    node.port = static_cast<int>(value);
    node.name = node.address();
    if (std::string p = nodeProblem(node); !p.empty()) throw Error("'" + text + "': " + p);
    return node;
}

std::string PacsNodeList::defaultPath() {
    if (const char* explicitPath = std::getenv("RLLM_PACS_NODES"); explicitPath && *explicitPath)
        return explicitPath;
    fs::path base;
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
        base = xdg;
    else if (const char* home = std::getenv("HOME"); home && *home)
        base = fs::path(home) / ".config";
    else
        base = fs::current_path();
    return (base / "rllm" / "pacs-nodes.json").string();
}

namespace {

json toJson(const PacsNode& n) {
    return json{{"name", n.name},
                {"aeTitle", n.aeTitle},
                {"host", n.host},
                {"port", n.port},
                {"callingAeTitle", n.callingAeTitle},
                {"storagePort", n.storagePort},
                {"timeoutSeconds", n.timeoutSeconds},
                {"useTls", n.useTls},
                {"tlsTrustedCertificates", n.tlsTrustedCertificates},
                {"tlsCertificate", n.tlsCertificate},
                {"tlsPrivateKey", n.tlsPrivateKey},
                {"dicomWebUrl", n.dicomWebUrl},
                {"username", n.username},
                {"password", n.password},
                {"verifyTlsPeer", n.verifyTlsPeer}};
}

PacsNode fromJson(const json& j) {
    PacsNode n;
    n.name = j.at("name").get<std::string>();
    n.aeTitle = j.at("aeTitle").get<std::string>();
    n.host = j.value("host", n.host);
    n.port = j.value("port", n.port);
    n.callingAeTitle = j.value("callingAeTitle", n.callingAeTitle);
    n.storagePort = j.value("storagePort", n.storagePort);
    n.timeoutSeconds = j.value("timeoutSeconds", n.timeoutSeconds);
    n.useTls = j.value("useTls", n.useTls);
    n.tlsTrustedCertificates = j.value("tlsTrustedCertificates", n.tlsTrustedCertificates);
    n.tlsCertificate = j.value("tlsCertificate", n.tlsCertificate);
    n.tlsPrivateKey = j.value("tlsPrivateKey", n.tlsPrivateKey);
    n.dicomWebUrl = j.value("dicomWebUrl", n.dicomWebUrl);
    n.username = j.value("username", n.username);
    n.password = j.value("password", n.password);
    n.verifyTlsPeer = j.value("verifyTlsPeer", n.verifyTlsPeer);
    return n;
}

}  // namespace

PacsNodeList PacsNodeList::load(const std::string& path) {
    PacsNodeList list;
    std::ifstream in(path);
    if (!in) return list;
    try {
        const json j = json::parse(in);
        for (const json& node : j.at("nodes")) {
            PacsNode n = fromJson(node);
            if (std::string p = nodeProblem(n); !p.empty())
                throw Error("node '" + n.name + "': " + p);
            list.put(n);
        }
    } catch (const std::exception& e) {
        throw FileError(path, std::string("is not a valid list of PACS nodes: ") + e.what(),
                        "Fix or remove the file; the viewer's PACS browser writes it.");
    }
    return list;
}

void PacsNodeList::save(const std::string& path) const {
    json nodes = json::array();
    for (const PacsNode& n : nodes_) nodes.push_back(toJson(n));
    fs::create_directories(fs::path(path).parent_path());
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary);
        out << json{{"nodes", nodes}}.dump(2) << "\n";
        if (!out.flush()) throw FileError(path, "could not be written.");
        // Passwords live here: only the user may read the file.
        fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write);
    });
}

const PacsNode* PacsNodeList::find(const std::string& name) const {
    for (const PacsNode& n : nodes_)
        if (n.name == name) return &n;
    return nullptr;
}

void PacsNodeList::put(const PacsNode& node) {
    for (PacsNode& n : nodes_)
        if (n.name == node.name) {
            n = node;
            return;
        }
    nodes_.push_back(node);
}

bool PacsNodeList::remove(const std::string& name) {
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it)
        if (it->name == name) {
            nodes_.erase(it);
            return true;
        }
    return false;
}

PacsNode resolveNode(const std::string& nameOrAddress, const PacsNodeList& saved) {
    if (const PacsNode* node = saved.find(nameOrAddress)) return *node;
    if (nameOrAddress.find('@') == std::string::npos)
        throw Error("no saved PACS node is called '" + nameOrAddress +
                    "': give AET@host:port, or save the node first (rllm pacs nodes --add)");
    return parseNodeAddress(nameOrAddress);
}

}  // namespace rllm
