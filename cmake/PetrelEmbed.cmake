# Text files compiled into a binary (Petrel's CRDs, the sandbox's manifests).
#   petrel_embed_entries(<var> <file>...)
#     sets <var> to one C++ initializer a file, {"<file name>", R"petrelembed(<text>)petrelembed"},
#     for a configure_file template's vector<pair<string, string>>; changing a file reconfigures.
function(petrel_embed_entries var)
  set(entries "")
  foreach(file ${ARGN})
    file(READ ${file} text)
    get_filename_component(name ${file} NAME)
    string(APPEND entries "      {\"${name}\", R\"petrelembed(${text})petrelembed\"},\n")
  endforeach()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ARGN})
  set(${var} "${entries}" PARENT_SCOPE)
endfunction()
