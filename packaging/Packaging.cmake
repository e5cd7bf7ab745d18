# CPack: `cpack -G DEB` in the build folder makes a Debian package.
set(CPACK_PACKAGE_NAME "rllm-viewer")
set(CPACK_PACKAGE_VENDOR "R-LLM Viewer developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Medical image viewer comparing a ViT classifier with its LLM-boosted twin")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "R-LLM Viewer developers")
# Depends: found by dpkg-shlibdeps from the libraries the binaries link,
# plus what is loaded at run time: Qt's platform plugins (to open a window),
# its SVG plugin (the window icon) and OpenBLAS (LibTorch's BLAS through the
# alternatives system).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins, libqt6svg6, libopenblas0-pthread")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libgl1-mesa-dri")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "R-LLM Viewer developers")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
if(RLLM_BUILD_GUI)
    # What a desktop needs to list the viewer: its launcher, its icon (SVG,
    # in the hicolor theme) and its AppStream description for software centres.
    install(FILES ${CMAKE_CURRENT_LIST_DIR}/rllm-viewer.desktop
            DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
    install(FILES ${PROJECT_SOURCE_DIR}/resources/icons/rllm-viewer.svg
            DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
    install(FILES ${CMAKE_CURRENT_LIST_DIR}/io.github.rllm_viewer.rllm_viewer.metainfo.xml
            DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
endif()
include(CPack)
