# Layering enforced by the build. Sources include project headers by their path from the repo
# root ("agent/core/ipam.h"), but no target sees the repo root: each library exposes only its
# own headers, staged as symlinks under build/include/<target>/, to itself and to the targets
# that link it. Including a header of a library one does not depend on fails to compile.
#
#   petrel_expose(<target> <dir> [EXCEPT h...] [ONLY h...])
#     stages <dir>/*.h (relative to the repo root; all, all but EXCEPT, or just ONLY) for <target>:
#     PUBLIC for a library, INTERFACE for an interface library, PRIVATE for an executable.
function(petrel_expose target dir)
  cmake_parse_arguments(arg "" "" "EXCEPT;ONLY" ${ARGN})
  set(root ${CMAKE_BINARY_DIR}/include/${target})
  if(arg_ONLY)
    set(headers ${arg_ONLY})
  else()
    file(GLOB headers CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/${dir}
         ${CMAKE_SOURCE_DIR}/${dir}/*.h)
    if(arg_EXCEPT)
      list(REMOVE_ITEM headers ${arg_EXCEPT})
    endif()
  endif()
  file(MAKE_DIRECTORY ${root}/${dir})
  foreach(h ${headers})
    if(NOT EXISTS ${CMAKE_SOURCE_DIR}/${dir}/${h})
      message(FATAL_ERROR "petrel_expose(${target}): no header ${dir}/${h}")
    endif()
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${dir}/${h} ${root}/${dir}/${h} SYMBOLIC)
  endforeach()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${root})
  elseif(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE ${root})
  else()
    target_include_directories(${target} PUBLIC ${root})
  endif()
endfunction()
