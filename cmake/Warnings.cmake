# Warning flags shared by every Petrel C++ target: petrel_warnings(<target>).
function(petrel_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter
                                           -Wnon-virtual-dtor -Wcast-align -Wnull-dereference)
endfunction()
