# Compiler flags shared by every target of the project: warnings, -Werror in CI, sanitizers.

add_library(sipvoice_warnings INTERFACE)
target_compile_options(sipvoice_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
  -Wimplicit-fallthrough -Wformat=2)
if(SIPVOICE_WERROR)
  target_compile_options(sipvoice_warnings INTERFACE -Werror)
endif()

if(SIPVOICE_SANITIZE)
  add_compile_options(-fsanitize=${SIPVOICE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${SIPVOICE_SANITIZE})
endif()

# The fuzz build instruments everything for coverage; the fuzz targets add the libFuzzer main.
if(SIPVOICE_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SIPVOICE_BUILD_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
