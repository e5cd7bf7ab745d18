#pragma once
// Adds or edits one PACS node: its addresses, our AE title and storage port,
// time-out, DICOMweb root and credentials. OK is refused (with the reason)
// while the node could not work.

#include "core/pacs/PacsNode.h"

#include <QDialog>

class QCheckBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace rllm {

class PacsNodeDialog : public QDialog {
    Q_OBJECT
  public:
    explicit PacsNodeDialog(const PacsNode& node, QWidget* parent = nullptr);
    PacsNode node() const;

    void accept() override;

  private:
    QLineEdit *name_, *aeTitle_, *host_, *callingAeTitle_, *dicomWebUrl_, *username_, *password_;
    QLineEdit *tlsTrusted_, *tlsCertificate_, *tlsKey_;
    QSpinBox *port_, *storagePort_, *timeout_;
    QCheckBox *tls_, *verify_;
    QLabel* problem_;
};

}  // namespace rllm
