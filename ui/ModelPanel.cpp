#include "ui/ModelPanel.h"

#include "models/CamMethods.h"
#include "models/Engine.h"
#include "models/LoadedModel.h"
#include "ui/AnalysisService.h"
#include "ui/VolumeView3D.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSlider>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace rllm {

namespace {

// Whether a CAM method (by its key) is computed at a chosen layer.
bool methodTakesLayer(const QVariant& key) {
    const CamMethodInfo* info = findCamMethod(key.toString().toStdString());
    return info && info->takesLayer;
}

}  // namespace

ModelPanel::ModelPanel(AnalysisService* service, QWidget* parent)
    : QWidget(parent), service_(service) {
    auto* layout = new QVBoxLayout(this);
    auto* load = new QPushButton(tr("Load model bundle..."), this);
    load->setObjectName("loadModelButton");
    connect(load, &QPushButton::clicked, this, &ModelPanel::loadRequested);
    layout->addWidget(load);

    list_ = new QListWidget(this);
    list_->setObjectName("modelList");
    list_->setMaximumHeight(90);
    layout->addWidget(list_);
    details_ = new QTextBrowser(this);
    details_->setObjectName("modelDetails");
    details_->setMinimumHeight(120);
    layout->addWidget(details_, 1);
    connect(list_, &QListWidget::currentRowChanged, this, &ModelPanel::showDetails);

    auto* form = new QFormLayout;
    layout->addLayout(form);
    for (int slot = 0; slot < 2; ++slot) {
        slotCombo_[slot] = new QComboBox(this);
        slotCombo_[slot]->setObjectName(slot ? "modelBCombo" : "modelACombo");
        form->addRow(slot ? tr("Model B:") : tr("Model A:"), slotCombo_[slot]);
        connect(slotCombo_[slot], &QComboBox::currentIndexChanged, this,
                &ModelPanel::settingsChanged);
    }
    device_ = new QComboBox(this);
    device_->setObjectName("deviceCombo");
    device_->addItem(tr("Auto"), "auto");
    device_->addItem(tr("CPU"), "cpu");
    for (int i = 0; i < cudaDeviceCount(); ++i)
        device_->addItem(QStringLiteral("CUDA:%1").arg(i), QStringLiteral("cuda:%1").arg(i));
    form->addRow(tr("Device:"), device_);
    connect(device_, &QComboBox::currentIndexChanged, this,
            [this] { emit deviceChosen(device()); });

    auto* camBox = new QGroupBox(tr("Class activation maps"), this);
    auto* camForm = new QFormLayout(camBox);
    method_ = new QComboBox(camBox);
    method_->setObjectName("camMethodCombo");
    for (const CamMethodInfo& info : camMethods()) {
        method_->addItem(tr(info.title), QString::fromLatin1(info.key));
        method_->setItemData(method_->count() - 1, tr(info.about), Qt::ToolTipRole);
    }
    camForm->addRow(tr("Method:"), method_);
    layer_ = new QComboBox(camBox);
    layer_->setObjectName("camLayerCombo");
    layer_->addItem(tr("default (block:0:norm1)"), QString());
    for (const char* name : {"block:-1:norm1", "block:0", "booster:input", "booster:llm"})
        layer_->addItem(name, name);
    camForm->addRow(tr("Layer:"), layer_);
    // Automatic chooses its own layer, and rollout follows every block.
    auto enableLayer = [this] { layer_->setEnabled(methodTakesLayer(method_->currentData())); };
    connect(method_, &QComboBox::currentIndexChanged, this, enableLayer);
    enableLayer();
    colormap_ = new QComboBox(camBox);
    colormap_->setObjectName("colormapCombo");
    for (const QString& name : heatColormapNames())
        if (name != "Diverging") colormap_->addItem(name);
    camForm->addRow(tr("Colour map:"), colormap_);
    opacity_ = new QSlider(Qt::Horizontal, camBox);
    opacity_->setObjectName("opacitySlider");
    opacity_->setRange(0, 100);
    opacity_->setValue(45);
    camForm->addRow(tr("Opacity:"), opacity_);
    threshold_ = new QSlider(Qt::Horizontal, camBox);
    threshold_->setObjectName("thresholdSlider");
    threshold_->setRange(0, 100);
    threshold_->setValue(20);
    camForm->addRow(tr("Threshold:"), threshold_);
    for (int slot = 0; slot < 2; ++slot) {
        showOverlay_[slot] = new QCheckBox(
            slot ? tr("Show B's CAM in the views") : tr("Show A's CAM in the views"), camBox);
        showOverlay_[slot]->setObjectName(slot ? "showOverlayB" : "showOverlayA");
        showOverlay_[slot]->setChecked(slot == 0);
        camForm->addRow(showOverlay_[slot]);
        connect(showOverlay_[slot], &QCheckBox::toggled, this, &ModelPanel::settingsChanged);
    }
    cam3d_ = new QComboBox(camBox);
    cam3d_->setObjectName("cam3dCombo");
    cam3d_->addItem(tr("none"), -1);
    cam3d_->addItem(tr("model A"), 0);
    cam3d_->addItem(tr("model B"), 1);
    cam3d_->setCurrentIndex(1);
    camForm->addRow(tr("CAM in 3D:"), cam3d_);
    transfer_ = new QComboBox(camBox);
    transfer_->setObjectName("transferCombo");
    transfer_->addItems(VolumeView3D::transferPresets());
    camForm->addRow(tr("3D preset:"), transfer_);
    layout->addWidget(camBox);

    for (QComboBox* combo : {method_, layer_, colormap_, cam3d_, transfer_})
        connect(combo, &QComboBox::currentIndexChanged, this, &ModelPanel::settingsChanged);
    for (QSlider* slider : {opacity_, threshold_})
        connect(slider, &QSlider::valueChanged, this, &ModelPanel::settingsChanged);
    connect(service_, &AnalysisService::modelsChanged, this, &ModelPanel::refreshModels);
    refreshModels();
}

void ModelPanel::refreshModels() {
    const int a = modelIndex(0), b = modelIndex(1);
    {
        QSignalBlocker blockList(list_);
        const int row = list_->currentRow();
        list_->clear();
        for (int i = 0; i < service_->modelCount(); ++i) {
            auto model = service_->model(i);
            list_->addItem(tr("%1  [%2, %3]")
                               .arg(service_->modelName(i),
                                    model->boosted() ? tr("booster") : tr("baseline"),
                                    model->volumetric() ? "3D" : "2D"));
        }
        list_->setCurrentRow(row >= 0 ? row : service_->modelCount() - 1);
    }
    for (int slot = 0; slot < 2; ++slot) {
        QSignalBlocker block(slotCombo_[slot]);
        slotCombo_[slot]->clear();
        slotCombo_[slot]->addItem(tr("(none)"), -1);
        for (int i = 0; i < service_->modelCount(); ++i)
            slotCombo_[slot]->addItem(service_->modelName(i), i);
    }
    // Keep the choices; fill empty slots with the first models loaded.
    setModelIndex(0, a >= 0 ? a : (service_->modelCount() > 0 ? 0 : -1));
    setModelIndex(1, b >= 0 ? b : (service_->modelCount() > 1 ? 1 : -1));
    showDetails(list_->currentRow());
    emit settingsChanged();
}

void ModelPanel::showDetails(int index) {
    auto model = service_->model(index);
    if (!model) {
        details_->setHtml(tr("<i>No model loaded.</i>"));
        return;
    }
    QString html = summarise(QString::fromStdString(model->descriptionJson()));
    html += tr("<p><b>Device:</b> %1 %2</p>")
                .arg(QString::fromStdString(model->device()),
                     QString::fromStdString(model->deviceNote()).toHtmlEscaped());
    details_->setHtml(html);
}

QString ModelPanel::summarise(const QString& descriptionJson) {
    const QJsonObject d = QJsonDocument::fromJson(descriptionJson.toUtf8()).object();
    const QJsonObject m = d["model"].toObject();
    QStringList classes;
    for (const QJsonValue& c : d["class_names"].toArray()) classes << c.toString();
    QString html;
    auto row = [&html](const QString& key, const QString& value) {
        html += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>")
                    .arg(key, value.toHtmlEscaped());
    };
    html += "<table cellspacing=2>";
    row(tr("Task"), d["task"].toString());
    row(tr("Classes"), classes.join(", "));
    row(tr("Architecture"), tr("%1 %2, %3 blocks, width %4, %5 heads, patch %6, input %7")
                                .arg(m["arch"].toString(), m["preset"].toString())
                                .arg(m["depth"].toInt())
                                .arg(m["dim"].toInt())
                                .arg(m["heads"].toInt())
                                .arg(m["patch"].toInt())
                                .arg(m["image_size"].toInt()));
    row(tr("Dataset"), d["dataset"].toObject()["file"].toString());
    if (d.contains("booster")) {
        const QJsonObject b = d["booster"].toObject();
        const QJsonObject llm = b["llm"].toObject();
        row(tr("Booster"), tr("R-LLM, residual mode %1").arg(b["mode"].toString()));
        if (!llm.isEmpty()) {
            QStringList layers;
            for (const QJsonValue& l : llm["layers"].toArray())
                layers << QString::number(l.toInt());
            row(tr("LLM source"), llm["source"].toString());
            if (llm.contains("initialisation"))
                row(tr("Frozen block"),
                    tr("%1 (not pretrained)").arg(llm["initialisation"].toString()));
            row(tr("LLM layers"), layers.join(", "));
            row(tr("Frozen SHA-256"), llm["sha256"].toString());
        }
    } else {
        row(tr("Booster"), tr("none (ViT baseline)"));
    }
    const QJsonObject t = d["training"].toObject();
    if (!t.isEmpty()) {
        auto metric = [](const QJsonObject& o) {
            return QStringLiteral("ACC %1, AUC %2")
                .arg(o["acc"].toDouble(), 0, 'f', 3)
                .arg(o["auc"].toDouble(), 0, 'f', 3);
        };
        row(tr("Validation"), metric(t["val"].toObject()));
        row(tr("Test"), metric(t["test"].toObject()));
        row(tr("Training"), tr("%1 epochs (best %2), seed %3, %4 cases; selected on %5")
                                .arg(t["epochs"].toInt())
                                .arg(t["best_epoch"].toInt())
                                .arg(t["seed"].toInt())
                                .arg(t["train_cases"].toInt())
                                .arg(t["selected_on"].toString()));
        row(tr("Command"), t["command"].toString());
    }
    html += "</table>";
    return html;
}

int ModelPanel::modelIndex(int slot) const {
    return slotCombo_[slot]->currentData().isValid() ? slotCombo_[slot]->currentData().toInt() : -1;
}

void ModelPanel::setModelIndex(int slot, int index) {
    const int at = slotCombo_[slot]->findData(index);
    if (at >= 0) slotCombo_[slot]->setCurrentIndex(at);
}

CamRequest ModelPanel::camRequest() const {
    CamRequest r;
    r.method = method_->currentData().toString();
    r.layer = methodTakesLayer(r.method) ? layer_->currentData().toString() : QString();
    return r;
}

void ModelPanel::setCamMethod(const QString& method) {
    const int at = method_->findData(method);
    if (at >= 0) method_->setCurrentIndex(at);
}

OverlayStyle ModelPanel::overlayStyle() const {
    OverlayStyle s;
    s.colormap = heatColormapFromName(colormap_->currentText());
    s.opacity = opacity_->value() / 100.0;
    s.threshold = threshold_->value() / 100.0;
    return s;
}

void ModelPanel::setOverlayStyle(const OverlayStyle& style) {
    colormap_->setCurrentText(heatColormapName(style.colormap));
    opacity_->setValue(static_cast<int>(style.opacity * 100));
    threshold_->setValue(static_cast<int>(style.threshold * 100));
}

bool ModelPanel::overlayShown(int slot) const {
    return showOverlay_[slot]->isChecked();
}
int ModelPanel::cam3dSlot() const {
    return cam3d_->currentData().toInt();
}
QString ModelPanel::transferPreset() const {
    return transfer_->currentText();
}
QString ModelPanel::device() const {
    return device_->currentData().toString();
}

void ModelPanel::setDevice(const QString& device) {
    const int at = device_->findData(device);
    if (at >= 0) device_->setCurrentIndex(at);
}

}  // namespace rllm
