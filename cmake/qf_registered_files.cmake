# What qf_add_models (cmake/qf_models.cmake) and qf_add_indicators (cmake/qf_indicators.cmake) share: a
# researcher's own files, each registering something by name (a model architecture, an indicator row)
# from a static object whose constructor runs before main.
#
# qf_add_registering_files(<executable> <suffix> <library> <files...>) compiles the files into
# <executable> as the OBJECT library <executable>_<suffix>, built against <library>. An OBJECT library,
# because its object files are always linked: our libraries are static, and from a static library the
# linker takes only the members that something already refers to. Nothing refers to such a file (its
# registration is a static object), so from an archive it would be dropped, and its registration with
# it, without a word.
function(qf_add_registering_files target suffix library)
  if(NOT ARGN)
    return()
  endif()
  add_library(${target}_${suffix} OBJECT ${ARGN})
  target_link_libraries(${target}_${suffix} PRIVATE ${library} qf_options)
  target_link_libraries(${target} PRIVATE ${target}_${suffix})
endfunction()

# qf_absolute_files(<variable> <files...>): the files (absolute or from the source root) as absolute
# paths, for the QF_*_SOURCES settings.
function(qf_absolute_files variable)
  set(files)
  foreach(file IN LISTS ARGN)
    cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE absolute)
    list(APPEND files ${absolute})
  endforeach()
  set(${variable} ${files} PARENT_SCOPE)
endfunction()
