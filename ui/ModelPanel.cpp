#include "ui/ModelPanel.h"

#include "models/BundleDescription.h"
#include "models/CamMethods.h"
#include "models/Engine.h"
#include "ui/session/OverlayStyle.h"
#include "ui/session/ViewerSession.h"
#include "ui/VolumeView3D.h"

#include "core/io/MedMnist.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSlider>
#include <QToolButton>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <cmath>

namespace rllm {

namespace {

// Whether a CAM method (by its key) is computed at a chosen layer.
bool methodTakesLayer(const QVariant& key) {
    const CamMethodInfo* info = findCamMethod(key.toString().toStdString());
    return info && info->takesLayer;
}

}  // namespace

ModelPanel::ModelPanel(ViewerSession* session, QWidget* parent)
    : QWidget(parent), session_(session) {
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
    // `auto` measured on this model's own validation cases, for the session.
    chooseAuto_ = new QPushButton(tr("Choose auto CAM on validation cases..."), this);
    chooseAuto_->setObjectName("chooseAutoCamButton");
    chooseAuto_->setToolTip(
        tr("Measure every CAM method and layer of the selected model on the first %1 "
           "validation cases of its MedMNIST archive (deletion, insertion, ROAD) and show "
           "the most faithful map as auto, as rllm cam-choose does. The bundle file is not "
           "changed.")
            .arg(AnalysisBackend::kAutoCamCases));
    connect(chooseAuto_, &QPushButton::clicked, this, &ModelPanel::chooseAutoCam);
    layout->addWidget(chooseAuto_);
    // A choice made here would be lost with the session: a copy of the bundle keeps it.
    saveChosen_ = new QPushButton(tr("Save a copy with this auto..."), this);
    saveChosen_->setObjectName("saveChosenCopyButton");
    saveChosen_->setToolTip(
        tr("Write the selected model, with the auto CAM chosen in this session, to a new "
           "bundle (as rllm cam-choose --out does). The loaded bundle is never written."));
    connect(saveChosen_, &QPushButton::clicked, this, &ModelPanel::saveChosenCopy);
    layout->addWidget(saveChosen_);
    autoNote_ = new QLabel(this);
    autoNote_->setObjectName("autoCamNote");
    autoNote_->setWordWrap(true);
    autoNote_->hide();
    layout->addWidget(autoNote_);
    connect(session_->backend(), &AnalysisBackend::autoCamChoiceEnded, this,
            [this](int, const QString& summary) { finishAutoCam(summary); });
    connect(session_->backend(), &AnalysisBackend::modelCopyEnded, this,
            [this](int, bool, const QString& summary) {
                savingCopy_ = false;
                autoNote_->setText(summary);
                autoNote_->show();
                showDetails(list_->currentRow());
            });

    // The comparison's slots: one row each (letter, model, shown over the views).
    auto* slotBox = new QGroupBox(tr("Comparison"), this);
    auto* slotLayout = new QVBoxLayout(slotBox);
    slotGrid_ = new QGridLayout;
    slotGrid_->setColumnStretch(1, 1);  // the model's name takes the room there is
    slotLayout->addLayout(slotGrid_);
    auto* addSlot = new QPushButton(tr("Add a model to the comparison"), slotBox);
    addSlot->setObjectName("addSlotButton");
    connect(addSlot, &QPushButton::clicked, this, [this] { session_->addSlot(); });
    slotLayout->addWidget(addSlot);
    layout->addWidget(slotBox);

    auto* form = new QFormLayout;
    layout->addLayout(form);
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
    colormap_ = new QComboBox(camBox);
    colormap_->setObjectName("colormapCombo");
    for (const QString& name : heatColormapNames())
        if (name != "Diverging") colormap_->addItem(name);
    camForm->addRow(tr("Colour map:"), colormap_);
    opacity_ = new QSlider(Qt::Horizontal, camBox);
    opacity_->setObjectName("opacitySlider");
    opacity_->setRange(0, 100);
    camForm->addRow(tr("Opacity:"), opacity_);
    threshold_ = new QSlider(Qt::Horizontal, camBox);
    threshold_->setObjectName("thresholdSlider");
    threshold_->setRange(0, 100);
    camForm->addRow(tr("Threshold:"), threshold_);
    cam3d_ = new QComboBox(camBox);
    cam3d_->setObjectName("cam3dCombo");
    camForm->addRow(tr("CAM in 3D:"), cam3d_);
    transfer_ = new QComboBox(camBox);
    transfer_->setObjectName("transferCombo");
    transfer_->addItems(VolumeView3D::transferPresets());
    camForm->addRow(tr("3D preset:"), transfer_);
    layout->addWidget(camBox);

    for (QComboBox* combo : {method_, layer_})
        connect(combo, &QComboBox::currentIndexChanged, this, &ModelPanel::sendCamRequest);
    connect(colormap_, &QComboBox::currentIndexChanged, this, &ModelPanel::sendOverlayStyle);
    for (QSlider* slider : {opacity_, threshold_})
        connect(slider, &QSlider::valueChanged, this, &ModelPanel::sendOverlayStyle);
    connect(cam3d_, &QComboBox::currentIndexChanged, this,
            [this] { session_->setCam3dSlot(cam3d_->currentData().toInt()); });
    connect(transfer_, &QComboBox::currentTextChanged, session_, &ViewerSession::setTransferPreset);

    connect(session_->backend(), &AnalysisBackend::modelsChanged, this, &ModelPanel::refreshModels);
    connect(session_, &ViewerSession::slotsChanged, this, &ModelPanel::syncSlots);
    connect(session_, &ViewerSession::displayChanged, this, &ModelPanel::syncDisplay);
    connect(session_, &ViewerSession::camRequestChanged, this, &ModelPanel::syncDisplay);
    session_->setTransferPreset(transfer_->currentText());
    refreshModels();
    syncDisplay();
}

void ModelPanel::refreshModels() {
    AnalysisBackend* backend = session_->backend();
    {
        QSignalBlocker blockList(list_);
        const int row = list_->currentRow();
        list_->clear();
        for (int i = 0; i < backend->modelCount(); ++i) {
            const ModelInfo model = backend->modelInfo(i);
            list_->addItem(tr("%1  [%2, %3]")
                               .arg(model.name, model.boosted ? tr("booster") : tr("baseline"),
                                    model.volumetric ? "3D" : "2D"));
        }
        list_->setCurrentRow(row >= 0 ? row : backend->modelCount() - 1);
    }
    showDetails(list_->currentRow());
    syncSlots();
}

void ModelPanel::syncSlots() {
    // Rows are updated in place, not rebuilt: the combo box whose change led
    // here must survive its own signal.
    AnalysisBackend* backend = session_->backend();
    while (static_cast<int>(rows_.size()) > session_->slotCount()) {
        const SlotRow& row = rows_.back();
        for (QWidget* w : {static_cast<QWidget*>(row.letter), static_cast<QWidget*>(row.model),
                           static_cast<QWidget*>(row.shown), static_cast<QWidget*>(row.remove)})
            w->deleteLater();
        rows_.pop_back();
    }
    while (static_cast<int>(rows_.size()) < session_->slotCount()) {
        const int slot = static_cast<int>(rows_.size());
        const QString letter = ViewerSession::slotLetter(slot);
        SlotRow row;
        row.letter = new QLabel(tr("%1:").arg(letter), this);
        row.model = new QComboBox(this);
        row.model->setObjectName("model" + letter + "Combo");
        row.model->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        row.model->setMinimumContentsLength(12);
        row.shown = new QCheckBox(tr("show"), this);
        row.shown->setObjectName("showOverlay" + letter);
        row.shown->setToolTip(tr("Draw %1's CAM over the views").arg(letter));
        row.remove = new QToolButton(this);
        row.remove->setObjectName("removeSlot" + letter);
        row.remove->setText(QStringLiteral("\u2212"));
        row.remove->setToolTip(tr("Take %1 out of the comparison").arg(letter));
        connect(row.model, &QComboBox::currentIndexChanged, this, [this, slot] {
            session_->setSlotModel(slot, rows_[slot].model->currentData().toInt());
        });
        connect(row.shown, &QCheckBox::toggled, this,
                [this, slot](bool on) { session_->setOverlayShown(slot, on); });
        connect(row.remove, &QToolButton::clicked, this,
                [this, slot] { session_->removeSlot(slot); });
        slotGrid_->addWidget(row.letter, slot, 0);
        slotGrid_->addWidget(row.model, slot, 1);
        slotGrid_->addWidget(row.shown, slot, 2);
        slotGrid_->addWidget(row.remove, slot, 3);
        rows_.push_back(row);
    }
    for (int slot = 0; slot < session_->slotCount(); ++slot) {
        const SlotRow& row = rows_[slot];
        const ComparisonSlot& s = session_->slot(slot);
        QSignalBlocker blockModel(row.model), blockShown(row.shown);
        row.model->clear();
        row.model->addItem(tr("(none)"), -1);
        for (int i = 0; i < backend->modelCount(); ++i)
            row.model->addItem(backend->modelInfo(i).name, i);
        row.model->setCurrentIndex(std::max(0, row.model->findData(s.modelIndex)));
        row.shown->setChecked(s.overlayShown);
        // Two slots stay: the comparison is of two at least.
        row.remove->setEnabled(session_->slotCount() > 2);
    }
    {
        QSignalBlocker block(cam3d_);
        cam3d_->clear();
        cam3d_->addItem(tr("none"), -1);
        for (int slot = 0; slot < session_->slotCount(); ++slot)
            cam3d_->addItem(tr("model %1").arg(ViewerSession::slotLetter(slot)), slot);
        cam3d_->setCurrentIndex(std::max(0, cam3d_->findData(session_->cam3dSlot())));
    }
}

void ModelPanel::syncDisplay() {
    const CamRequest request = session_->camRequest();
    const OverlayStyle style = session_->overlayStyle();
    QSignalBlocker b1(method_), b2(layer_), b3(colormap_), b4(opacity_), b5(threshold_), b6(cam3d_),
        b7(transfer_);
    if (const int at = method_->findData(request.method); at >= 0) method_->setCurrentIndex(at);
    if (const int at = layer_->findData(request.layer); at >= 0) layer_->setCurrentIndex(at);
    // Automatic chooses its own layer, and rollout follows every block.
    layer_->setEnabled(methodTakesLayer(method_->currentData()));
    colormap_->setCurrentText(heatColormapName(style.colormap));
    opacity_->setValue(static_cast<int>(std::lround(style.opacity * 100)));
    threshold_->setValue(static_cast<int>(std::lround(style.threshold * 100)));
    cam3d_->setCurrentIndex(std::max(0, cam3d_->findData(session_->cam3dSlot())));
    if (!session_->transferPreset().isEmpty())
        transfer_->setCurrentText(session_->transferPreset());
    for (int slot = 0; slot < static_cast<int>(rows_.size()) && slot < session_->slotCount();
         ++slot) {
        QSignalBlocker block(rows_[slot].shown);
        rows_[slot].shown->setChecked(session_->slot(slot).overlayShown);
    }
}

void ModelPanel::sendCamRequest() {
    CamRequest r;
    r.method = method_->currentData().toString();
    r.layer = methodTakesLayer(r.method) ? layer_->currentData().toString() : QString();
    layer_->setEnabled(methodTakesLayer(r.method));
    session_->setCamRequest(r);
}

void ModelPanel::sendOverlayStyle() {
    OverlayStyle s;
    s.colormap = heatColormapFromName(colormap_->currentText());
    s.opacity = opacity_->value() / 100.0;
    s.threshold = threshold_->value() / 100.0;
    session_->setOverlayStyle(s);
}

void ModelPanel::chooseAutoCam() {
    const int index = list_->currentRow();
    const ModelInfo model = session_->backend()->modelInfo(index);
    if (model.name.isEmpty()) return;
    // The model's own archive when it is the one open; otherwise the user says where it is.
    QString archive;
    if (const auto dataset = session_->dataset();
        dataset && QFileInfo(QString::fromStdString(dataset->path())).fileName() == model.trainedOn)
        archive = QString::fromStdString(dataset->path());
    if (archive.isEmpty())
        archive = QFileDialog::getOpenFileName(
            this,
            tr("The validation cases for %1 (its MedMNIST archive%2)")
                .arg(model.name,
                     model.trainedOn.isEmpty() ? QString() : tr(": ") + model.trainedOn),
            {}, tr("MedMNIST archives (*.npz)"));
    if (archive.isEmpty()) return;
    choosingAuto_ = true;
    chooseAuto_->setEnabled(false);
    autoNote_->setText(
        tr("Measuring every map of %1 on %2...").arg(model.name, QFileInfo(archive).fileName()));
    autoNote_->show();
    session_->backend()->chooseAutoCam(index, archive);
}

void ModelPanel::finishAutoCam(const QString& summary) {
    choosingAuto_ = false;
    autoNote_->setText(summary);
    autoNote_->show();
    showDetails(list_->currentRow());
}

void ModelPanel::saveChosenCopy() {
    const int index = list_->currentRow();
    const ModelInfo model = session_->backend()->modelInfo(index);
    if (model.name.isEmpty()) return;
    const QFileInfo bundle(model.path);
    const QString suggested =
        bundle.dir().filePath(bundle.completeBaseName() + QStringLiteral(".auto.safetensors"));
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Save a copy of %1 with this auto").arg(model.name),
                                     suggested, tr("Model bundles (*.safetensors)"));
    if (path.isEmpty()) return;
    savingCopy_ = true;
    saveChosen_->setEnabled(false);
    autoNote_->setText(tr("Writing %1...").arg(path));
    autoNote_->show();
    session_->backend()->saveModelCopy(index, path);
}

void ModelPanel::showDetails(int index) {
    const ModelInfo model = session_->backend()->modelInfo(index);
    chooseAuto_->setEnabled(!model.name.isEmpty() && !choosingAuto_);
    saveChosen_->setEnabled(model.autoChosenHere && !savingCopy_);
    if (model.name.isEmpty()) {
        details_->setHtml(tr("<i>No model loaded.</i>"));
        return;
    }
    QString html = model.description ? summarise(*model.description) : QString();
    if (model.autoChosenHere)
        html +=
            tr("<p><b>CAM auto</b> was chosen in this session on validation cases, not "
               "read from the bundle (unchanged; <i>Save a copy with this auto</i> or "
               "<tt>rllm cam-choose --out</tt> writes a copy that keeps it).</p>");
    html += tr("<p><b>Device:</b> %1 %2</p>").arg(model.device, model.deviceNote.toHtmlEscaped());
    details_->setHtml(html);
}

QString ModelPanel::summarise(const BundleDescription& d) {
    auto text = [](const std::string& s) { return QString::fromStdString(s); };
    QString html;
    auto row = [&html](const QString& key, const QString& value) {
        html += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>")
                    .arg(key, value.toHtmlEscaped());
    };
    html += "<table cellspacing=2>";
    row(tr("Task"), text(d.task));
    QStringList classes;
    for (const std::string& c : d.class_names) classes << text(c);
    row(tr("Classes"), classes.join(", "));
    const VitSpec& m = d.model;
    row(tr("Architecture"), tr("%1 %2, %3 blocks, width %4, %5 heads, patch %6, input %7")
                                .arg(text(m.arch), text(m.preset))
                                .arg(m.depth)
                                .arg(m.dim)
                                .arg(m.heads)
                                .arg(m.patch)
                                .arg(m.image_size));
    // Options that change what the network sees, named where they are set.
    QStringList tokens;
    if (m.shifted_patches) tokens << tr("shifted patch tokens");
    if (m.locality_attention) tokens << tr("locality self-attention");
    if (!m.patch_norm) tokens << tr("no LayerNorm on patch vectors");
    if (m.mean_pool) tokens << tr("head reads the mean of the patch tokens");
    if (m.conv_stem) tokens << tr("convolutional stem");
    if (!tokens.isEmpty()) row(tr("Tokens"), tokens.join(", "));
    if (d.dataset) row(tr("Dataset"), text(d.dataset->file));
    row(tr("Input"), tr("(x * %1 - %2) / %3 of the stored values")
                         .arg(d.input.scale, 0, 'g', 4)
                         .arg(d.input.mean)
                         .arg(d.input.std));
    if (d.booster) {
        row(tr("Booster"), tr("R-LLM, residual mode %1").arg(text(d.booster->mode)));
        if (const auto& llm = d.booster->llm) {
            QStringList layers;
            for (int l : llm->layers) layers << QString::number(l);
            row(tr("LLM source"), text(llm->source));
            if (llm->initialisation != "pretrained" && !llm->initialisation.empty())
                row(tr("Frozen block"), tr("%1 (not pretrained)").arg(text(llm->initialisation)));
            row(tr("LLM layers"), layers.join(", "));
            row(tr("Frozen SHA-256"), text(llm->sha256));
        }
    } else {
        row(tr("Booster"), tr("none (ViT baseline)"));
    }
    row(tr("CAM auto"), autoCamOrigin(d));
    if (const auto& t = d.training) {
        auto metric = [](const ScoresRecord& s) {
            return QStringLiteral("ACC %1, AUC %2").arg(s.acc, 0, 'f', 3).arg(s.auc, 0, 'f', 3);
        };
        row(tr("Validation"), metric(t->val));
        row(tr("Test"), metric(t->test));
        row(tr("Training"), tr("%1 epochs (best %2), seed %3, %4 cases; selected on %5")
                                .arg(t->epochs)
                                .arg(t->best_epoch)
                                .arg(t->seed)
                                .arg(t->train_cases)
                                .arg(text(t->selected_on)));
        row(tr("Command"), text(t->command));
    }
    html += "</table>";
    return html;
}

QString ModelPanel::autoCamOrigin(const BundleDescription& d) {
    if (!d.explanation)
        return tr(
            "the default rule, measured on synthetic phantoms, not on this model "
            "(rllm cam-choose chooses for it)");
    const ExplanationChoice& e = *d.explanation;
    return tr("%1 at %2, chosen for this model on %3 %4 cases of %5 (insertion - deletion "
              "%6, LeRF - MoRF %7)")
        .arg(QString::fromStdString(e.method), QString::fromStdString(e.layer))
        .arg(e.cases)
        .arg(QString::fromStdString(e.split), QString::fromStdString(e.data))
        .arg(e.insertion_minus_deletion, 0, 'f', 3)
        .arg(e.lerf_minus_morf, 0, 'f', 3);
}

QString ModelPanel::device() const {
    return device_->currentData().toString();
}

void ModelPanel::setDevice(const QString& device) {
    const int at = device_->findData(device);
    if (at >= 0) device_->setCurrentIndex(at);
}

}  // namespace rllm
