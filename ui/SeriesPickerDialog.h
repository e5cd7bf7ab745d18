#pragma once
// Lets the user choose one series of a DICOM folder: patient, study, series
// description, modality and image count for each.

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

  private:
    QTableWidget* table_ = nullptr;
    std::vector<std::string> uids_;
};

}  // namespace rllm
