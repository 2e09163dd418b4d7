# A researcher's own indicators, built into executables without editing quant/ta (docs/architecture.md,
# "Recipe: add an indicator").
include(${CMAKE_CURRENT_LIST_DIR}/qf_registered_files.cmake)

# qf_add_indicators(<executable> <files...>) compiles the files, each registering its rows with
# qf::quant::ta::IndicatorRegistration (qf/quant/ta/registry.h), into <executable>, as an OBJECT
# library: from a static library the linker would drop them, and the rows with them
# (cmake/qf_registered_files.cmake).
function(qf_add_indicators target)
  qf_add_registering_files(${target} indicators qf_quant_ta ${ARGN})
endfunction()

# The app that computes the features (process_new_data: a row of the registry is a panel of the store's
# /features) gets the files of QF_INDICATOR_SOURCES: cmake -DQF_INDICATOR_SOURCES="a.cpp;b.cpp", paths
# absolute or from the source root.
set(QF_INDICATOR_SOURCES "" CACHE STRING "A researcher's indicator files (;-list) built into process_new_data")
qf_absolute_files(qf_researcher_indicators ${QF_INDICATOR_SOURCES})
