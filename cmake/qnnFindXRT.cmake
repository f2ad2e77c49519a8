# qnn_find_xrt(): what a target needs to use XRT, or why it cannot.
#
# Used twice: by qnn's own build (target qnn_xrt, QNN_WITH_XRT=ON) and by the installed
# qnnConfig.cmake (imported target qnn::xrt), so a consumer finds XRT exactly as qnn's tests did.
# Upstream XRT installs XRTConfig.cmake (target XRT::xrt_coreutil). Debian's libxrt-dev installs none,
# and its xrt.pc is unusable (prefix /usr//usr) and names libxrt_core, which must not be linked: it
# pins the PCIe shim and so defeats XCL_EMULATION_MODE. Hence: XRT's package if present, else a
# search (XILINX_XRT first). libuuid is linked because XRT's headers call it inline.
# docs/backends_xrt.md.
#
# Sets in the caller's scope: QNN_XRT_FOUND; when found, QNN_XRT_INCLUDE_DIRS (to add as SYSTEM:
# XRT's headers are not -Wpedantic clean), QNN_XRT_LIBRARIES and QNN_XRT_COREUTIL (the library
# file, for messages and for locating XRT's shims); when not, QNN_XRT_NOT_FOUND (what is missing).
function(qnn_find_xrt)
  find_library(QNN_UUID_LIBRARY uuid)
  find_package(XRT CONFIG QUIET)
  if(TARGET XRT::xrt_coreutil AND QNN_UUID_LIBRARY)
    get_target_property(_coreutil XRT::xrt_coreutil LOCATION)
    set(QNN_XRT_INCLUDE_DIRS "" PARENT_SCOPE)
    set(QNN_XRT_LIBRARIES XRT::xrt_coreutil ${QNN_UUID_LIBRARY} PARENT_SCOPE)
  else()
    find_path(QNN_XRT_INCLUDE_DIR xrt/xrt_device.h HINTS ENV XILINX_XRT PATH_SUFFIXES include xrt include/xrt)
    find_library(QNN_XRT_COREUTIL xrt_coreutil HINTS ENV XILINX_XRT PATH_SUFFIXES lib lib64)
    if(NOT QNN_XRT_INCLUDE_DIR OR NOT QNN_XRT_COREUTIL OR NOT QNN_UUID_LIBRARY)
      set(QNN_XRT_FOUND FALSE PARENT_SCOPE)
      set(QNN_XRT_NOT_FOUND "XRT was not found (headers: ${QNN_XRT_INCLUDE_DIR}, xrt_coreutil: "
                            "${QNN_XRT_COREUTIL}, uuid: ${QNN_UUID_LIBRARY}). Install libxrt-dev "
                            "(Debian/Ubuntu) or set XILINX_XRT to an XRT install." PARENT_SCOPE)
      return()
    endif()
    set(_coreutil ${QNN_XRT_COREUTIL})
    set(QNN_XRT_INCLUDE_DIRS ${QNN_XRT_INCLUDE_DIR} PARENT_SCOPE)
    set(QNN_XRT_LIBRARIES ${QNN_XRT_COREUTIL} ${QNN_UUID_LIBRARY} PARENT_SCOPE)
  endif()
  set(QNN_XRT_FOUND TRUE PARENT_SCOPE)
  set(QNN_XRT_COREUTIL ${_coreutil} PARENT_SCOPE)
endfunction()
