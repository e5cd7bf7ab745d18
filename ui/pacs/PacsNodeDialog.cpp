#include "ui/pacs/PacsNodeDialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QVBoxLayout>

namespace rllm {

PacsNodeDialog::PacsNodeDialog(const PacsNode& node, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("PACS node"));
    auto* form = new QFormLayout;
    auto line = [&](const std::string& value, const char* objectName) {
        auto* edit = new QLineEdit(QString::fromStdString(value), this);
        edit->setObjectName(objectName);
        return edit;
    };
    auto spin = [&](int value, int minimum, int maximum, const char* objectName) {
        auto* box = new QSpinBox(this);
        box->setRange(minimum, maximum);
        box->setValue(value);
        box->setObjectName(objectName);
        return box;
    };
    name_ = line(node.name, "nodeName");
    aeTitle_ = line(node.aeTitle, "nodeAeTitle");
    host_ = line(node.host, "nodeHost");
    port_ = spin(node.port, 1, 65535, "nodePort");
    callingAeTitle_ = line(node.callingAeTitle, "nodeCallingAeTitle");
    storagePort_ = spin(node.storagePort, 0, 65535, "nodeStoragePort");
    timeout_ = spin(node.timeoutSeconds, 1, 600, "nodeTimeout");
    timeout_->setSuffix(tr(" s"));
    tls_ = new QCheckBox(tr("DICOM TLS"), this);
    tls_->setChecked(node.useTls);
    tlsTrusted_ = line(node.tlsTrustedCertificates, "nodeTlsTrusted");
    tlsTrusted_->setPlaceholderText(tr("PEM file; empty: the system's CAs"));
    tlsCertificate_ = line(node.tlsCertificate, "nodeTlsCertificate");
    tlsKey_ = line(node.tlsPrivateKey, "nodeTlsKey");
    verify_ = new QCheckBox(tr("Check the archive's certificate"), this);
    verify_->setChecked(node.verifyTlsPeer);
    dicomWebUrl_ = line(node.dicomWebUrl, "nodeDicomWeb");
    dicomWebUrl_->setPlaceholderText("http://host:8042/dicom-web");
    username_ = line(node.username, "nodeUser");
    password_ = line(node.password, "nodePassword");
    password_->setEchoMode(QLineEdit::Password);
    form->addRow(tr("Name"), name_);
    form->addRow(tr("Archive AE title"), aeTitle_);
    form->addRow(tr("Host"), host_);
    form->addRow(tr("Port"), port_);
    form->addRow(tr("Our AE title"), callingAeTitle_);
    form->addRow(tr("Our storage port (C-MOVE; 0: C-GET only)"), storagePort_);
    form->addRow(tr("Time-out"), timeout_);
    form->addRow(QString(), tls_);
    form->addRow(tr("Trusted certificates"), tlsTrusted_);
    form->addRow(tr("Our certificate (PEM)"), tlsCertificate_);
    form->addRow(tr("Our private key (PEM)"), tlsKey_);
    form->addRow(QString(), verify_);
    form->addRow(tr("DICOMweb root"), dicomWebUrl_);
    form->addRow(tr("User"), username_);
    form->addRow(tr("Password"), password_);
    problem_ = new QLabel(this);
    problem_->setObjectName("nodeProblem");
    problem_->setWordWrap(true);
    problem_->setTextFormat(Qt::PlainText);
    problem_->setStyleSheet("color: #c0392b");
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(problem_);
    layout->addWidget(buttons);
}

PacsNode PacsNodeDialog::node() const {
    PacsNode n;
    n.name = name_->text().trimmed().toStdString();
    n.aeTitle = aeTitle_->text().trimmed().toStdString();
    n.host = host_->text().trimmed().toStdString();
    n.port = port_->value();
    n.callingAeTitle = callingAeTitle_->text().trimmed().toStdString();
    n.storagePort = storagePort_->value();
    n.timeoutSeconds = timeout_->value();
    n.useTls = tls_->isChecked();
    n.tlsTrustedCertificates = tlsTrusted_->text().trimmed().toStdString();
    n.tlsCertificate = tlsCertificate_->text().trimmed().toStdString();
    n.tlsPrivateKey = tlsKey_->text().trimmed().toStdString();
    n.verifyTlsPeer = verify_->isChecked();
    n.dicomWebUrl = dicomWebUrl_->text().trimmed().toStdString();
    n.username = username_->text().toStdString();
    n.password = password_->text().toStdString();
    return n;
}

void PacsNodeDialog::accept() {
    const PacsNode n = node();
    std::string problem = n.name.empty() ? "the node needs a name" : nodeProblem(n);
    if (!problem.empty()) {
        problem_->setText(QString::fromStdString(problem));
        return;
    }
    QDialog::accept();
}

}  // namespace rllm
