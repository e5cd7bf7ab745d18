#include "ui/ViewGrid.h"

#include "core/Volume.h"
#include "ui/VolumeView3D.h"

#include <QGridLayout>

namespace rllm {

ViewGrid::ViewGrid(QWidget* parent) : QWidget(parent) {
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(3);
    const PatientPlane planes[3] = {PatientPlane::Axial, PatientPlane::Coronal,
                                    PatientPlane::Sagittal};
    const char* names[3] = {"sliceViewAxial", "sliceViewCoronal", "sliceViewSagittal"};
    for (int i = 0; i < 3; ++i) {
        views_[i] = new SliceView(this);
        views_[i]->setObjectName(names[i]);
        views_[i]->setPlane(planes[i]);
        connect(views_[i], &SliceView::crosshairRequested, this, &ViewGrid::setCrosshair);
        connect(views_[i], &SliceView::sliceChanged, this, [this, i](qint64 index) {
            // Scrolling one view moves the crosshair, so the others follow.
            std::array<int64_t, 3> voxel = crosshair_;
            voxel[views_[i]->normalAxis()] = index;
            if (voxel != crosshair_) setCrosshair(voxel);
        });
        connect(views_[i], &SliceView::windowChanged, this, &ViewGrid::setWindow);
        connect(views_[i], &SliceView::cursorInfo, this, &ViewGrid::cursorInfo);
    }
    volumeView_ = new VolumeView3D(this);
    volumeView_->setObjectName("volumeView3D");
    grid->addWidget(views_[0], 0, 0);
    grid->addWidget(views_[1], 0, 1);
    grid->addWidget(views_[2], 1, 0);
    grid->addWidget(volumeView_, 1, 1);
    layoutFor(true);
}

ViewGrid::~ViewGrid() = default;

void ViewGrid::layoutFor(bool volumetric) {
    views_[1]->setVisible(volumetric);
    views_[2]->setVisible(volumetric);
    auto* grid = static_cast<QGridLayout*>(layout());
    grid->removeWidget(volumeView_);
    if (volumetric)
        grid->addWidget(volumeView_, 1, 1);
    else
        grid->addWidget(volumeView_, 0, 1);
}

void ViewGrid::setVolume(std::shared_ptr<const Volume> volume) {
    volume_ = std::move(volume);
    const bool volumetric = volume_ && !volume_->is2D();
    layoutFor(volumetric);
    for (SliceView* view : views_) {
        QSignalBlocker block(view);
        view->setVolume(volume_);
    }
    volumeView_->setVolume(volume_);
    if (volume_) {
        const auto& s = volume_->size();
        setCrosshair({s[0] / 2, s[1] / 2, s[2] / 2});
    }
}

void ViewGrid::setCrosshair(const std::array<int64_t, 3>& voxel) {
    if (!volume_) return;
    crosshair_ = voxel;
    for (SliceView* view : views_) {
        QSignalBlocker block(view);
        view->setCrosshair(voxel);
    }
    crosshair_ = views_[0]->crosshair();  // clamped to the image
    volumeView_->setCrosshair(crosshair_);
    emit crosshairChanged(crosshair_);
}

void ViewGrid::setWindow(double center, double width) {
    for (SliceView* view : views_) {
        QSignalBlocker block(view);
        view->setWindow(center, width);
    }
    emit windowChanged(center, width);
}

void ViewGrid::setOverlays(const std::vector<SliceOverlay>& overlays) {
    for (SliceView* view : views_) view->setOverlays(overlays);
}

}  // namespace rllm
