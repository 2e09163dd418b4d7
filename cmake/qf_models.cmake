# A researcher's own model architectures, built into executables without editing nn/src/models.cpp
# (docs/architecture.md, "Recipe: add a model").
#
# qf_add_models(<executable> <files...>) compiles the files, each registering its architecture with
# QF_REGISTER_ARCHITECTURE (qf/nn/models.h), into <executable>. They go in as an OBJECT library, whose
# object files are always linked: our libraries are static, and from a static library the linker takes
# only the members that something already refers to. Nothing refers to a model file (its registration
# is a static object whose constructor runs before main), so from an archive it would be dropped, and
# the architecture with it, without a word.
function(qf_add_models target)
  if(NOT ARGN)
    return()
  endif()
  add_library(${target}_models OBJECT ${ARGN})
  target_link_libraries(${target}_models PRIVATE qf_nn qf_options)
  target_link_libraries(${target} PRIVATE ${target}_models)
endfunction()

# The apps that build models by name (run_lstm_training trains them, predict_stock_movement reloads
# them from the registry) get the files of QF_MODEL_SOURCES: cmake -DQF_MODEL_SOURCES="a.cpp;b.cpp",
# paths absolute or from the source root.
set(QF_MODEL_SOURCES "" CACHE STRING "A researcher's model files (;-list) built into run_lstm_training and predict_stock_movement")
set(qf_researcher_models)
foreach(file IN LISTS QF_MODEL_SOURCES)
  cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE absolute)
  list(APPEND qf_researcher_models ${absolute})
endforeach()
