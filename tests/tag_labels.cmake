# Gives every CTest entry of a Catch2 executable one LABEL per Catch2 tag of its test case, so
# `ctest -L engine` selects by tag (Catch2 v2's catch_discover_tests sets no labels). Run after
# each link of the executable (POST_BUILD, beside catch_discover_tests); writes a CTest script
# that tests/CMakeLists.txt includes after the discovered tests.
#
#   cmake -D TEST_EXECUTABLE=<exe> -D CTEST_FILE=<out.cmake> -P tag_labels.cmake
#
# Hidden tags ([.], [.slow]) are not labels, and hidden test cases are no CTest entries: a tag's
# test cases are intersected with the ones --list-test-names-only lists without a spec.
cmake_policy(SET CMP0057 NEW)  # if(IN_LIST)
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-names-only
  OUTPUT_VARIABLE all_out RESULT_VARIABLE rc)
if(rc LESS 0)
  message(FATAL_ERROR "cannot list the test cases of ${TEST_EXECUTABLE}: ${rc}")
endif()
string(REPLACE "\n" ";" all_names "${all_out}")
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-tags OUTPUT_VARIABLE tags_out)
string(REPLACE "\n" ";" tag_lines "${tags_out}")

set(labelled "")
foreach(line IN LISTS tag_lines)
  # "   5  [engine]" (several spellings of one tag share a line: "[Foo][foo]").
  if(NOT line MATCHES "^ *[0-9]+  (\\[.+\\])$")
    continue()
  endif()
  string(REGEX MATCH "^\\[([^]]+)\\]" first "${CMAKE_MATCH_1}")
  set(tag "${CMAKE_MATCH_1}")
  if(tag MATCHES "^\\.")
    continue()
  endif()
  execute_process(COMMAND "${TEST_EXECUTABLE}" "[${tag}]" --list-test-names-only
    OUTPUT_VARIABLE tagged_out)
  string(REPLACE "\n" ";" tagged "${tagged_out}")
  foreach(name IN LISTS tagged)
    if(name STREQUAL "" OR NOT name IN_LIST all_names)
      continue()
    endif()
    string(MD5 key "${name}")
    if(NOT DEFINED labels_${key})
      list(APPEND labelled "${name}")
    endif()
    list(APPEND labels_${key} "${tag}")
  endforeach()
endforeach()

# set_tests_properties replaces LABELS, so each entry gets all its tags at once.
set(script "")
foreach(name IN LISTS labelled)
  string(MD5 key "${name}")
  string(APPEND script "set_tests_properties([==[${name}]==] PROPERTIES LABELS [==[${labels_${key}}]==])\n")
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
