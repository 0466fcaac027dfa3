# Installs the build into WORK_DIR/prefix, then builds and runs the consumer
# projects against it. Fails on the first step that fails.
cmake_minimum_required(VERSION 3.25)
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ok")
endfunction()

step("install" ${CMAKE_COMMAND} --install "${PHX_BUILD_DIR}" --prefix "${prefix}")
# find_package(phx) + target_link_libraries(app PRIVATE phx::phx)
step("configure consumer" ${CMAKE_COMMAND}
     -S "${PHX_SOURCE_DIR}/tests/consumer/project"
     -B "${WORK_DIR}/consumer"
     -DCMAKE_PREFIX_PATH=${prefix}
     -DPHX_SOURCE_DIR=${PHX_SOURCE_DIR}
     -DCMAKE_BUILD_TYPE=Release)
step("build consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/consumer" -j 2)
step("run consumer" "${WORK_DIR}/consumer/consumer")
# pkg-config --cflags --libs phx
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
execute_process(COMMAND pkg-config --cflags --libs phx
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know phx")
endif()
separate_arguments(flag_list UNIX_COMMAND "${flags}")
step("build with pkg-config" ${CXX} -o "${WORK_DIR}/pkgconfig_consumer"
     "${PHX_SOURCE_DIR}/tests/consumer/project/main.cpp" ${flag_list})
step("run pkg-config consumer" "${WORK_DIR}/pkgconfig_consumer")
