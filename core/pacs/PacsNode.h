#pragma once
// A PACS node: where a DICOM archive answers (DIMSE and, optionally,
// DICOMweb) and how to talk to it. One list of nodes, kept in a JSON file,
// serves both the viewer's PACS browser and `rllm pacs`, so a node saved in
// one is known to the other.

#include <string>
#include <vector>

namespace rllm {

struct PacsNode {
    std::string name;     // the user's name for it ("radiology", "orthanc-test")
    std::string aeTitle;  // the archive's called AE title
    std::string host = "127.0.0.1";
    int port = 104;
    std::string callingAeTitle = "RLLMVIEWER";  // ours, as the archive knows us
    // C-MOVE needs the archive to connect back to us: our storage SCP's port
    // (0: this node is retrieved from with C-GET only).
    int storagePort = 0;
    int timeoutSeconds = 10;  // connection, association and each DIMSE message
    // DICOM TLS for DIMSE (DCMTK's TLS layer, BCP 195 profile). The archive's
    // certificate is checked against `tlsTrustedCertificates` (a PEM file;
    // empty: the system's CA folder) unless verifyTlsPeer is off. Our own
    // certificate and key (PEM) are for archives that ask for one.
    bool useTls = false;
    std::string tlsTrustedCertificates, tlsCertificate, tlsPrivateKey;
    // DICOMweb: the service root ("http://127.0.0.1:8042/dicom-web"), empty if none.
    std::string dicomWebUrl;
    std::string username;  // HTTP basic authentication for DICOMweb
    std::string password;
    bool verifyTlsPeer = true;  // check the archive's certificate (DICOM TLS and https)

    // "AET@host:port" as the command line shows it.
    std::string address() const;
};

// Parses "AET@host:port" (port 1..65535; AE titles are 1-16 characters of
// printable ASCII without backslash). Throws rllm::Error saying what is wrong.
PacsNode parseNodeAddress(const std::string& text);

// Checks a node for what would fail later in a less clear way (empty AE
// title, port out of range, timeout not positive). Empty when fine.
std::string nodeProblem(const PacsNode& node);

// The saved nodes. The file is JSON ({"nodes":[...]}), written atomically.
class PacsNodeList {
  public:
    // $RLLM_PACS_NODES if set, else $XDG_CONFIG_HOME/rllm/pacs-nodes.json
    // (~/.config/rllm/pacs-nodes.json).
    static std::string defaultPath();

    // A missing file is an empty list; a malformed one throws FileError.
    static PacsNodeList load(const std::string& path);
    void save(const std::string& path) const;

    const std::vector<PacsNode>& nodes() const { return nodes_; }
    const PacsNode* find(const std::string& name) const;
    // Adds `node`, or replaces the one of the same name.
    void put(const PacsNode& node);
    bool remove(const std::string& name);

  private:
    std::vector<PacsNode> nodes_;
};

// A saved node's name, or an "AET@host:port" address, as `rllm pacs` takes it.
PacsNode resolveNode(const std::string& nameOrAddress, const PacsNodeList& saved);

}  // namespace rllm
