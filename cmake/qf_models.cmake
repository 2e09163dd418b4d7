# A researcher's own model architectures, built into executables without editing nn/src/models.cpp
# (docs/architecture.md, "Recipe: add a model").
include(${CMAKE_CURRENT_LIST_DIR}/qf_registered_files.cmake)

# qf_add_models(<executable> <files...>) compiles the files, each registering its architecture with
# QF_REGISTER_ARCHITECTURE (qf/nn/models.h), into <executable>, as an OBJECT library: from a static
# library the linker would drop them, and the architectures with them (cmake/qf_registered_files.cmake).
function(qf_add_models target)
  qf_add_registering_files(${target} models qf_nn ${ARGN})
endfunction()

# The apps that build models by name (run_lstm_training trains them, predict_stock_movement reloads
# them from the registry) get the files of QF_MODEL_SOURCES: cmake -DQF_MODEL_SOURCES="a.cpp;b.cpp",
# paths absolute or from the source root.
set(QF_MODEL_SOURCES "" CACHE STRING "A researcher's model files (;-list) built into run_lstm_training and predict_stock_movement")
qf_absolute_files(qf_researcher_models ${QF_MODEL_SOURCES})
