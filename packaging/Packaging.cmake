# CPack: `cpack -G DEB` in the build folder makes a Debian package.
set(CPACK_PACKAGE_NAME "rllm-viewer")
set(CPACK_PACKAGE_VENDOR "R-LLM Viewer developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Medical image viewer comparing a ViT classifier with its LLM-boosted twin")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "R-LLM Viewer developers")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
if(RLLM_BUILD_GUI)
    install(FILES ${CMAKE_CURRENT_LIST_DIR}/rllm-viewer.desktop DESTINATION share/applications)
endif()
include(CPack)
