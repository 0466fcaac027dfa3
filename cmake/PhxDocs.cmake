# The API reference (target `docs`, Doxygen over the public headers, every
# warning an error) and the man pages of the tools (built with the tools and
# installed with them). Included by the top-level CMakeLists.txt.

# -- API reference ----------------------------------------------------------------
find_package(Doxygen)
set(PHX_DOCS_OUTPUT "${PROJECT_BINARY_DIR}/docs")
if(DOXYGEN_FOUND)
  configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${PHX_DOCS_OUTPUT}/Doxyfile" @ONLY)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E remove_directory "${PHX_DOCS_OUTPUT}/html"
    COMMAND Doxygen::doxygen "${PHX_DOCS_OUTPUT}/Doxyfile"
    WORKING_DIRECTORY "${PHX_DOCS_OUTPUT}"
    COMMENT "API reference: ${PHX_DOCS_OUTPUT}/html/index.html"
    VERBATIM)
else()
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "the docs target needs doxygen (apt-get install doxygen)"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
if(PHX_BUILD_TESTS)
  # tools/check builds the reference through ctest: a warning fails the check.
  # Doxygen runs directly (no build of this tree from inside ctest).
  if(DOXYGEN_FOUND)
    add_test(NAME docs_reference COMMAND Doxygen::doxygen "${PHX_DOCS_OUTPUT}/Doxyfile")
    set_tests_properties(docs_reference PROPERTIES WORKING_DIRECTORY "${PHX_DOCS_OUTPUT}")
  else()
    add_test(NAME docs_reference
      COMMAND ${CMAKE_COMMAND} "-DREASON=the API reference needs doxygen (apt-get install doxygen), then re-run cmake"
              -P "${PROJECT_SOURCE_DIR}/tests/prerequisites_missing.cmake")
  endif()
  set_tests_properties(docs_reference PROPERTIES TIMEOUT 300 LABELS docs)
endif()

# -- man pages ------------------------------------------------------------------------
# phx's page comes from its --help (help2man, with man/phx.h2m for what --help
# does not say); phx-server's is written (man/phx-server.1). Both are installed
# gzipped, as Debian wants them.
if(NOT PHX_BUILD_TOOLS)
  return()
endif()
find_program(PHX_HELP2MAN help2man)
find_program(PHX_GZIP gzip REQUIRED)
set(PHX_MAN_DIR "${PROJECT_BINARY_DIR}/man")
set(phx_man_pages "")
if(PHX_HELP2MAN AND TARGET phx-cli)
  add_custom_command(OUTPUT "${PHX_MAN_DIR}/phx.1"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${PHX_MAN_DIR}"
    COMMAND ${PHX_HELP2MAN} --no-info --section 1 --source "phx ${PROJECT_VERSION}"
            --name "Phoenix Channels client for scripts and terminals"
            --include "${PROJECT_SOURCE_DIR}/man/phx.h2m"
            --output "${PHX_MAN_DIR}/phx.1" $<TARGET_FILE:phx-cli>
    DEPENDS phx-cli "${PROJECT_SOURCE_DIR}/man/phx.h2m"
    COMMENT "man page phx.1 (help2man)"
    VERBATIM)
  list(APPEND phx_man_pages phx)
elseif(NOT PHX_HELP2MAN)
  message(WARNING "help2man not found: no man page for phx (apt-get install help2man)")
endif()
add_custom_command(OUTPUT "${PHX_MAN_DIR}/phx-server.1"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${PHX_MAN_DIR}"
  COMMAND ${CMAKE_COMMAND} -E copy "${PROJECT_SOURCE_DIR}/man/phx-server.1"
          "${PHX_MAN_DIR}/phx-server.1"
  DEPENDS "${PROJECT_SOURCE_DIR}/man/phx-server.1"
  VERBATIM)
list(APPEND phx_man_pages phx-server)
# phx-fleet, once it is built, gets a page from its --help as well.
if(PHX_HELP2MAN AND TARGET phx-fleet)
  add_custom_command(OUTPUT "${PHX_MAN_DIR}/phx-fleet.1"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${PHX_MAN_DIR}"
    COMMAND ${PHX_HELP2MAN} --no-info --no-discard-stderr --section 1
            --version-string "${PROJECT_VERSION}"
            --name "distributed load generator for Phoenix Channels"
            --output "${PHX_MAN_DIR}/phx-fleet.1" $<TARGET_FILE:phx-fleet>
    DEPENDS phx-fleet
    VERBATIM)
  list(APPEND phx_man_pages phx-fleet)
endif()
set(phx_man_outputs "")
foreach(page IN LISTS phx_man_pages)
  add_custom_command(OUTPUT "${PHX_MAN_DIR}/${page}.1.gz"
    COMMAND ${PHX_GZIP} -9 -n -k -f "${PHX_MAN_DIR}/${page}.1"
    DEPENDS "${PHX_MAN_DIR}/${page}.1"
    VERBATIM)
  list(APPEND phx_man_outputs "${PHX_MAN_DIR}/${page}.1.gz")
endforeach()
add_custom_target(man ALL DEPENDS ${phx_man_outputs})
install(FILES ${phx_man_outputs} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
