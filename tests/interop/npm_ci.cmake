# Installs the interop suite's pinned npm packages into the build tree:
#   cmake -DSRC=<tests/interop> -DDEST=<build dir> -DNPM=<npm> -P npm_ci.cmake
# Nothing is written to the source tree.
foreach(var SRC DEST NPM)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "npm_ci.cmake: -D${var}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY "${DEST}")
file(COPY_FILE "${SRC}/package.json" "${DEST}/package.json" ONLY_IF_DIFFERENT)
file(COPY_FILE "${SRC}/package-lock.json" "${DEST}/package-lock.json" ONLY_IF_DIFFERENT)
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts --prefer-offline
  WORKING_DIRECTORY "${DEST}"
  RESULT_VARIABLE result
  TIMEOUT 280)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "npm ci failed (${result}) in ${DEST}")
endif()
message(STATUS "npm packages of the interop suite installed in ${DEST}/node_modules")
