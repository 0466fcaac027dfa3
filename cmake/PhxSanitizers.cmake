# The sanitizer and fuzzing trees of phx (driven by tools/check --asan,
# tools/check --tsan and tests/fuzz/run; docs/reliability.md explains them).
#
#   PHX_SANITIZE  AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
#                 comes with ASan) for every target of the tree
#   PHX_TSAN      ThreadSanitizer for every target of the tree
#   PHX_FUZZ      a clang tree of protocol/ and tests/fuzz only (libFuzzer);
#                 the top-level CMakeLists.txt stops before CAF for it
#
# Only the project's own code is instrumented: Debian's CAF, Boost and OpenSSL
# are not, which ASan/UBSan tolerate and TSan is told about in
# tests/sanitizers/tsan.supp.

if((PHX_SANITIZE AND PHX_TSAN) OR (PHX_FUZZ AND (PHX_SANITIZE OR PHX_TSAN)))
  message(FATAL_ERROR "PHX_SANITIZE, PHX_TSAN and PHX_FUZZ exclude each other: one tree each")
endif()

# The flags a program linking an instrumented phx needs (exported to consumers).
set(PHX_SANITIZER_LINK_FLAGS "")

if(PHX_SANITIZE)
  set(PHX_SANITIZER_LINK_FLAGS -fsanitize=address,undefined)
  # -g1: line tables symbolize every report at a third of -g's compile time.
  # Every UBSan report aborts, but `null` stays recoverable so that the
  # run-time suppressions of tests/sanitizers/ubsan.supp (CAF's header code) apply.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fsanitize-recover=null -fno-omit-frame-pointer -g1)
elseif(PHX_TSAN)
  set(PHX_SANITIZER_LINK_FLAGS -fsanitize=thread)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g1)
elseif(PHX_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PHX_FUZZ needs clang with libFuzzer: -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # fuzzer-no-link: coverage feedback everywhere; the fuzz targets add libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
# Clang's UBSan flags third-party header code gcc's does not: see the file.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND (PHX_SANITIZE OR PHX_FUZZ))
  add_compile_options(
    "-fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/tests/sanitizers/ubsan.ignorelist")
endif()
if(PHX_SANITIZER_LINK_FLAGS)
  add_link_options(${PHX_SANITIZER_LINK_FLAGS})
  # Consumers of an installed sanitized phx must link the runtime: say so in
  # the exported targets and phx.pc once the top-level file has made them.
  cmake_language(DEFER DIRECTORY "${PROJECT_SOURCE_DIR}" CALL _phx_sanitizer_exports)
endif()

function(_phx_sanitizer_exports)
  if(TARGET phx_protocol)
    target_link_options(phx_protocol INTERFACE ${PHX_SANITIZER_LINK_FLAGS})
  endif()
  set(pc "${PROJECT_BINARY_DIR}/phx.pc")
  if(EXISTS "${pc}")
    file(READ "${pc}" text)
    list(JOIN PHX_SANITIZER_LINK_FLAGS " " flags)
    string(REPLACE "\nLibs: " "\nLibs: ${flags} " text "${text}")
    file(WRITE "${pc}" "${text}")
  endif()
endfunction()
