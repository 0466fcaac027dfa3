# The Debian packages end to end: cpack builds them from this build, dpkg-deb
# (and lintian, when installed) checks them, and they are unpacked into a
# scratch root that the find_package and pkg-config consumers build against.
# Fails on the first step that fails. Arguments: PHX_BUILD_DIR, PHX_SOURCE_DIR,
# WORK_DIR, CXX, VERSION.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/root")
set(root "${WORK_DIR}/root")

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

function(require text part what)
  string(FIND "${text}" "${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: no '${part}' in:\n${text}")
  endif()
endfunction()

step("cpack" cpack -G DEB --config "${PHX_BUILD_DIR}/CPackConfig.cmake" -B "${WORK_DIR}/out")
file(GLOB debs "${WORK_DIR}/out/*.deb")
list(LENGTH debs n)
if(NOT n EQUAL 2)
  message(FATAL_ERROR "expected 2 packages, cpack made ${n}: ${debs}")
endif()
set(dev_deb "")
set(tools_deb "")
foreach(deb IN LISTS debs)
  get_filename_component(name "${deb}" NAME)
  if(name MATCHES "^libphx-dev_${VERSION}-1_[a-z0-9]+\\.deb$")
    set(dev_deb "${deb}")
  elseif(name MATCHES "^phx-tools_${VERSION}-1_[a-z0-9]+\\.deb$")
    set(tools_deb "${deb}")
  endif()
endforeach()
if(NOT dev_deb OR NOT tools_deb)
  message(FATAL_ERROR "the packages are not named libphx-dev_${VERSION}-1_ARCH.deb and phx-tools_${VERSION}-1_ARCH.deb: ${debs}")
endif()

# -- the control fields and the files ---------------------------------------------
step("dpkg-deb --info libphx-dev" dpkg-deb --info "${dev_deb}")
set(info "${step_output}")
require("${info}" "Package: libphx-dev" "libphx-dev control")
require("${info}" "Section: libdevel" "libphx-dev control")
require("${info}" "Description: Phoenix Channels client framework for CAF (development files)" "libphx-dev control")
require("${info}" "libcaf-dev (>= 0.17.6)" "libphx-dev Depends")
require("${info}" "rapidjson-dev" "libphx-dev Depends")
require("${info}" "libboost-system-dev" "libphx-dev Depends")
require("${info}" "libssl-dev" "libphx-dev Depends")
step("dpkg-deb --contents libphx-dev" dpkg-deb --contents "${dev_deb}")
foreach(file ./usr/include/phx/phx.hpp ./usr/include/phx/actors/actors.hpp
             ./usr/include/phx/protocol/payload.hpp ./usr/lib/libphx_actors.a
             ./usr/lib/libphx_transport.a ./usr/lib/libphx_protocol.a
             ./usr/lib/cmake/phx/phxConfig.cmake ./usr/lib/cmake/phx/FindCAF.cmake
             ./usr/lib/pkgconfig/phx.pc ./usr/share/doc/libphx-dev/copyright)
  require("${step_output}" "${file}" "libphx-dev contents")
endforeach()

step("dpkg-deb --info phx-tools" dpkg-deb --info "${tools_deb}")
set(info "${step_output}")
require("${info}" "Package: phx-tools" "phx-tools control")
require("${info}" "Description: Phoenix Channels command-line client and test server" "phx-tools control")
# Computed by dpkg-shlibdeps from the binaries.
foreach(dep libcaf-core0.17 libedit2 libtinfo6 libssl3 libstdc++6 libc6)
  require("${info}" "${dep}" "phx-tools Depends")
endforeach()
step("dpkg-deb --contents phx-tools" dpkg-deb --contents "${tools_deb}")
foreach(file ./usr/bin/phx ./usr/bin/phx-server ./usr/share/man/man1/phx.1.gz
             ./usr/share/man/man1/phx-server.1.gz ./usr/share/doc/phx-tools/copyright)
  require("${step_output}" "${file}" "phx-tools contents")
endforeach()

# -- lintian, when installed ---------------------------------------------------------
find_program(LINTIAN lintian)
if(LINTIAN)
  # Tags that a CPack-made, unsigned, local package cannot avoid: no Debian
  # changelog or upstream changelog, and no signature of a Debian maintainer.
  set(suppressed
      no-changelog
      debian-changelog-file-missing
      changelog-file-missing-in-native-package
      no-manual-page
      binary-without-manpage)
  list(JOIN suppressed "," suppressed)
  step("lintian" ${LINTIAN} --fail-on error --suppress-tags "${suppressed}" "${dev_deb}" "${tools_deb}")
  message(STATUS "lintian:\n${step_output}")
else()
  message(STATUS "lintian not installed: only dpkg-deb checked the packages")
endif()

# -- unpacked into a scratch root, used as a user would --------------------------------
step("unpack libphx-dev" dpkg-deb -x "${dev_deb}" "${root}")
step("unpack phx-tools" dpkg-deb -x "${tools_deb}" "${root}")
step("phx --version" "${root}/usr/bin/phx" --version)
require("${step_output}" "phx ${VERSION}" "phx --version")
step("phx --help" "${root}/usr/bin/phx" --help)
require("${step_output}" "exit status:" "phx --help")
step("phx-server --help" "${root}/usr/bin/phx-server" --help)
foreach(page phx phx-server)
  step("man page ${page}" gzip -t "${root}/usr/share/man/man1/${page}.1.gz")
endforeach()

# find_package(phx) + target_link_libraries(app PRIVATE phx::phx)
step("configure consumer" ${CMAKE_COMMAND}
     -S "${PHX_SOURCE_DIR}/tests/consumer/project"
     -B "${WORK_DIR}/consumer"
     -DCMAKE_PREFIX_PATH=${root}/usr
     -DPHX_SOURCE_DIR=${PHX_SOURCE_DIR}
     -DCMAKE_BUILD_TYPE=Release)
step("build consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/consumer" -j 2)
step("run consumer" "${WORK_DIR}/consumer/consumer")
file(READ "${WORK_DIR}/consumer/CMakeCache.txt" cache)
require("${cache}" "phx_DIR:PATH=${root}/usr/lib/cmake/phx" "the consumer's phx package")

# pkg-config --cflags --libs phx, from the unpacked phx.pc (relocatable).
set(ENV{PKG_CONFIG_PATH} "${root}/usr/lib/pkgconfig")
execute_process(COMMAND pkg-config --cflags --libs phx
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know the unpacked phx")
endif()
# The unpacked root, not the system: the prefix comes from phx.pc's own place.
require("${flags}" "-I${root}/usr/lib/pkgconfig/../../include" "pkg-config --cflags")
separate_arguments(flag_list UNIX_COMMAND "${flags}")
step("build with pkg-config" ${CXX} -o "${WORK_DIR}/pkgconfig_consumer"
     "${PHX_SOURCE_DIR}/tests/consumer/project/main.cpp" ${flag_list})
step("run pkg-config consumer" "${WORK_DIR}/pkgconfig_consumer")
