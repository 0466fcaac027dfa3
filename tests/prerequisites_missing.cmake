# The command of a `<label>_prerequisites` ctest test (tests/CMakeLists.txt):
# a suite whose tools are missing fails visibly instead of being skipped.
#   cmake -DREASON=<why> -P prerequisites_missing.cmake
message(FATAL_ERROR "${REASON}")
