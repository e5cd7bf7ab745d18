#include "ui/SeriesPickerDialog.h"

#include "core/io/Dicom.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace rllm {

SeriesPickerDialog::SeriesPickerDialog(const std::vector<DicomSeriesInfo>& series, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Choose a series"));
    auto* layout = new QVBoxLayout(this);
    table_ = new QTableWidget(0, 6, this);
    table_->setHorizontalHeaderLabels(
        {tr("Patient"), tr("Study"), tr("Series"), tr("#"), tr("Modality"), tr("Images")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    for (const DicomSeriesInfo& s : series) {
        const int volumes = std::max(1, s.volumeCount);
        for (int volume = 0; volume < volumes; ++volume) {
            QString description = QString::fromStdString(s.seriesDescription);
            if (volumes > 1)
                description += tr(" [volume %1 of %2, 4D by %3]")
                                   .arg(volume + 1)
                                   .arg(volumes)
                                   .arg(QString::fromStdString(s.volumesDifferIn));
            const QStringList cells = {QString::fromStdString(s.patientName),
                                       QString::fromStdString(s.studyDescription),
                                       description,
                                       QString::fromStdString(s.seriesNumber),
                                       QString::fromStdString(s.modality),
                                       QString::number(s.imageCount / volumes)};
            const int row = table_->rowCount();
            table_->insertRow(row);
            for (int col = 0; col < cells.size(); ++col)
                table_->setItem(row, col, new QTableWidgetItem(cells[col]));
            rows_.emplace_back(s.seriesInstanceUid, volumes > 1 ? volume : -1);
        }
    }
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->resizeColumnsToContents();
    if (table_->rowCount() > 0) table_->selectRow(0);
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
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[row].first : std::string();
}

int SeriesPickerDialog::selectedVolume() const {
    const int row = table_->currentRow();
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[row].second : -1;
}

}  // namespace rllm
