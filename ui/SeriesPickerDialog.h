#pragma once
// Lets the user choose one series of a DICOM folder: patient, study, series
// description, modality and image count for each; a 4D series (several
// volumes at the same positions) has a row per volume.

#include <QDialog>

#include <string>
#include <vector>

class QTableWidget;

namespace rllm {

struct DicomSeriesInfo;

class SeriesPickerDialog : public QDialog {
    Q_OBJECT
  public:
    SeriesPickerDialog(const std::vector<DicomSeriesInfo>& series, QWidget* parent = nullptr);
    std::string selectedSeriesUid() const;
    // The chosen volume of a 4D series (from 0), or -1 for an ordinary series.
    int selectedVolume() const;

  private:
    QTableWidget* table_ = nullptr;
    std::vector<std::pair<std::string, int>> rows_;  // series UID, volume
};

}  // namespace rllm
