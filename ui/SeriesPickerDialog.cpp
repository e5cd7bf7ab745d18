#include "ui/SeriesPickerDialog.h"

#include "core/io/Dicom.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QTableWidget>
#include <QVBoxLayout>

namespace rllm {

SeriesPickerDialog::SeriesPickerDialog(const std::vector<DicomSeriesInfo>& series, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Choose a series"));
    auto* layout = new QVBoxLayout(this);
    table_ = new QTableWidget(static_cast<int>(series.size()), 6, this);
    table_->setHorizontalHeaderLabels(
        {tr("Patient"), tr("Study"), tr("Series"), tr("#"), tr("Modality"), tr("Images")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    for (int row = 0; row < static_cast<int>(series.size()); ++row) {
        const DicomSeriesInfo& s = series[row];
        const QStringList cells = {
            QString::fromStdString(s.patientName),       QString::fromStdString(s.studyDescription),
            QString::fromStdString(s.seriesDescription), QString::fromStdString(s.seriesNumber),
            QString::fromStdString(s.modality),          QString::number(s.imageCount)};
        for (int col = 0; col < cells.size(); ++col)
            table_->setItem(row, col, new QTableWidgetItem(cells[col]));
        uids_.push_back(s.seriesInstanceUid);
    }
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->resizeColumnsToContents();
    if (!series.empty()) table_->selectRow(0);
    layout->addWidget(table_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(table_, &QTableWidget::cellDoubleClicked, this, &QDialog::accept);
    layout->addWidget(buttons);
    resize(720, 320);
}

std::string SeriesPickerDialog::selectedSeriesUid() const {
    const int row = table_->currentRow();
    return row >= 0 && row < static_cast<int>(uids_.size()) ? uids_[row] : std::string();
}

}  // namespace rllm
