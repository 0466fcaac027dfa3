# Debian packages with CPack (`cpack -G DEB` in the build directory; the ctest
# test `deb_packages` builds, checks and consumes them):
#   libphx-dev  the static libraries, the headers, the CMake package and phx.pc
#   phx-tools   phx, phx-server (and phx-fleet once it is built), their man pages
# Included by the top-level CMakeLists.txt after every target is defined.

# The tools' binaries go in the tools component (phx-cli does it in its own
# folder; the others are installed from here, whatever their folder says).
foreach(tool phx-server phx-fleet)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
  endif()
endforeach()
# Debian wants the license of every package in /usr/share/doc/<package>/copyright,
# machine-readable (DEP-5): BSD-3-Clause, as CAF and websocketpp.
file(READ "${PROJECT_SOURCE_DIR}/LICENSE" phx_license)
# DEP-5 license text: every line indented by one space, empty lines as " .".
string(REGEX REPLACE "^BSD 3-Clause License\n\n" "" phx_license_body "${phx_license}")
string(REGEX REPLACE "\n\n" "\n.\n" phx_license_body "${phx_license_body}")
string(REGEX REPLACE "\n$" "" phx_license_body "${phx_license_body}")
string(REPLACE "\n" "\n " phx_license_body "${phx_license_body}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/copyright.in" "${PROJECT_BINARY_DIR}/copyright" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/copyright"
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libphx-dev COMPONENT dev)
install(FILES "${PROJECT_BINARY_DIR}/copyright"
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/phx-tools COMPONENT tools)

# cpack (and the deb_packages test inside ctest) packages what is built: it
# never starts a build of the whole tree ("preinstall") of its own.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "phx")
set(CPACK_PACKAGE_VENDOR "the phx authors")
# Whoever builds packages for others names themselves: -DPHX_DEB_MAINTAINER="Name <mail>".
set(PHX_DEB_MAINTAINER "phx maintainers <phx-maintainers@example.org>" CACHE STRING
    "Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${PHX_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# Each package's summary is the first line of its CPACK_DEBIAN_<COMPONENT>_DESCRIPTION:
# CPackDeb prepends the project's summary unless it is CPack's default one.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_NAME} built using CMake")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Executables without their debug information (static libraries keep theirs).
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL dev tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://hexdocs.pm/phoenix/channels.html")

# libphx-dev: what a program that links phx needs at build time. The headers
# include CAF and RapidJSON; the static libraries need Boost.System and OpenSSL
# (phx.pc requires openssl); websocketpp is compiled into libphx_transport.a.
set(CPACK_DEBIAN_DEV_PACKAGE_NAME "libphx-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE "amd64")
execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE phx_deb_arch
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(phx_deb_arch)
  set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE "${phx_deb_arch}")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libcaf-dev (>= 0.17.6), libcaf-dev (<< 0.18~), rapidjson-dev, libboost-system-dev (>= 1.74), libssl-dev, zlib1g-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "Phoenix Channels client framework for CAF (development files)
phx is a C++17 client for Phoenix Channels built on the C++ Actor Framework
(CAF 0.17): the socket, each channel and each pending push are actors, and a
small facade (phx::socket, phx::channel, phx::push, phx::presence) serves
users who do not know CAF. This package holds the static libraries, the
headers, the CMake package (find_package(phx)) and the pkg-config file.")

# phx-tools: its Depends are computed from the binaries (dpkg-shlibdeps).
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME "phx-tools")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION
    "Phoenix Channels command-line client and test server
phx is a client for Phoenix Channels for scripts (JSON lines, exit codes)
and terminals (an interactive prompt with line editing and history).
phx-server is a Phoenix-protocol server for loopback tests and benchmarks.")

include(CPack)

# The packages built, checked and consumed (label install, as the install check);
# a sanitizer build makes no release packages, so it does not test them.
if(PHX_BUILD_TESTS AND PHX_BUILD_TOOLS AND NOT PHX_SANITIZE AND NOT PHX_TSAN)
  add_test(NAME deb_packages
    COMMAND ${CMAKE_COMMAND}
            -DPHX_BUILD_DIR=${PROJECT_BINARY_DIR}
            -DPHX_SOURCE_DIR=${PROJECT_SOURCE_DIR}
            -DWORK_DIR=${PROJECT_BINARY_DIR}/tests/package
            -DCXX=${CMAKE_CXX_COMPILER}
            -DVERSION=${PROJECT_VERSION}
            -P ${PROJECT_SOURCE_DIR}/tests/package/run.cmake)
  set_tests_properties(deb_packages PROPERTIES TIMEOUT 600 LABELS install)
endif()
