# Builds a BPF C program with clang -target bpf and turns it into a libbpf skeleton header with
# bpftool, so the object is embedded in the binary that includes the header (nothing to ship).
#   petrel_bpf_skeleton(<name> <source.bpf.c>)  ->  interface target petrel_bpf_<name>
#   providing <name>.skel.h on its include path.
find_program(BPF_CLANG NAMES clang-16 clang-15 clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

execute_process(COMMAND uname -m OUTPUT_VARIABLE PETREL_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
# vmlinux.h (kernel types from this machine's BTF) for the programs that reach into kernel
# structures with CO-RE (the socket iterators); the others use the uapi headers only.
set(PETREL_VMLINUX_DIR ${CMAKE_BINARY_DIR}/bpf/vmlinux)
if(NOT EXISTS ${PETREL_VMLINUX_DIR}/vmlinux.h)
  if(NOT EXISTS /sys/kernel/btf/vmlinux)
    message(FATAL_ERROR "/sys/kernel/btf/vmlinux is missing: Petrel needs a kernel with BTF "
                        "(CONFIG_DEBUG_INFO_BTF=y)")
  endif()
  file(MAKE_DIRECTORY ${PETREL_VMLINUX_DIR})
  execute_process(COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c
                  OUTPUT_FILE ${PETREL_VMLINUX_DIR}/vmlinux.h RESULT_VARIABLE vmlinux_rc)
  if(NOT vmlinux_rc EQUAL 0)
    file(REMOVE ${PETREL_VMLINUX_DIR}/vmlinux.h)
    message(FATAL_ERROR "bpftool btf dump of /sys/kernel/btf/vmlinux failed")
  endif()
endif()
set(PETREL_BPF_INCLUDES
    -I${CMAKE_SOURCE_DIR}/bpf/include -I${CMAKE_SOURCE_DIR}/bpf/shared -I${CMAKE_SOURCE_DIR}/bpf/lib
    -I${CMAKE_SOURCE_DIR}/bpf -I/usr/include/${PETREL_ARCH}-linux-gnu -I${PETREL_VMLINUX_DIR})

function(petrel_bpf_skeleton name src)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(skel ${skel_dir}/${name}.skel.h)
  file(GLOB_RECURSE bpf_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -Wno-unused-function ${PETREL_BPF_INCLUDES} -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${src} ${bpf_headers}
    COMMENT "BPF ${name}: compiling ${src}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${skel_dir}
    COMMAND sh -c "${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj}
    COMMENT "BPF ${name}: generating skeleton"
    VERBATIM)
  add_custom_target(petrel_bpf_${name}_gen DEPENDS ${skel})
  add_library(petrel_bpf_${name} INTERFACE)
  add_dependencies(petrel_bpf_${name} petrel_bpf_${name}_gen)
  target_include_directories(petrel_bpf_${name} INTERFACE ${skel_dir} ${CMAKE_SOURCE_DIR}/bpf/shared)
  target_link_libraries(petrel_bpf_${name} INTERFACE PkgConfig::LIBBPF)
  set_property(GLOBAL APPEND PROPERTY PETREL_BPF_OBJECTS ${obj})
endfunction()
