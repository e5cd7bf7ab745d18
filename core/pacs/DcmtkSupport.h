#pragma once
// Internal to core/pacs: what the DIMSE client and the storage SCP share.
// Includes DCMTK's types, so only core/pacs/*.cpp include it.

#include "core/pacs/PacsNode.h"

#include <string>

class DcmDataset;
class DcmItem;
class DcmTagKey;
class OFCondition;

namespace rllm {

struct RetrieveTarget;

// Quietens DCMTK's own logging (our messages say what went wrong) and loads
// its data dictionary once.
void initDcmtk();

// DICOM pads values with spaces (and UIDs with NUL): strip both ends.
std::string dicomTrim(const std::string& value);

// An attribute's value(s) as text, trimmed, backslash-separated; empty when absent.
std::string dicomValue(DcmItem* item, const DcmTagKey& tag);

// "PACS 'name' (AET@host:port)" for messages.
std::string describeNode(const PacsNode& node);

// A message for a failed connect or association, saying what to check.
std::string connectionFailure(const PacsNode& node, const OFCondition& condition);

// Why a received object may not be kept (empty when it may): the UIDs that
// name it are missing or malformed, or it belongs to another study or
// series than `target` (target fields that are empty are not checked).
std::string checkReceived(DcmDataset* dataset, const RetrieveTarget& target);

// Writes a received object as DICOM Part 10 through a temporary file that is
// renamed into place. False, with the reason, when it could not be written.
bool saveDatasetAtomically(DcmDataset& dataset, const std::string& path, std::string* error);

// Keeps a refused object in `folder` under a fresh name, with a .txt beside
// it giving the reason, so a person can see what the peer sent.
void quarantineDataset(DcmDataset& dataset, const std::string& folder, const std::string& reason);

}  // namespace rllm
