# Extracts the README's marked code snippets for the test suite, so that they cannot drift from
# the API: a snippet is the ```cpp block right after a line `<!-- snippet: NAME -->` (an HTML
# comment, invisible on GitHub and in the Doxygen main page).
#
#   cmake -DREADME=path/README.md -DOUT=dir -DNAMES=name1,name2,... -P readme_snippets.cmake
#
# For each NAME it writes OUT/NAME.inc, the snippet's lines after a #line directive pointing into
# README.md (so a compile error names the README's line), with its #include lines blanked, and
# OUT/NAME.includes.inc, those #include lines. tests/test_readme.cpp includes the first inside a
# TEST_CASE and the second at file scope. NAMES must be exactly the marked snippets: a marked
# snippet without a test, or a test whose snippet is gone, stops the build.
cmake_minimum_required(VERSION 3.16)

foreach(var README OUT NAMES)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "readme_snippets.cmake: -D${var}=... is required")
  endif()
endforeach()
string(REPLACE "," ";" expected "${NAMES}")

# Rewrites a file only when its contents change, so an edit elsewhere in the README recompiles
# nothing.
function(write_if_changed path content)
  set(old "")
  if(EXISTS "${path}")
    file(READ "${path}" old)
  endif()
  if(NOT old STREQUAL content)
    file(WRITE "${path}" "${content}")
  endif()
endfunction()
file(READ "${README}" text)
# CMake lists split at ';', which C++ is full of: work on the whole text with string(FIND).
string(REGEX MATCHALL "<!-- snippet: [A-Za-z0-9_-]+ -->" markers "${text}")
set(found "")
foreach(marker IN LISTS markers)
  string(REGEX REPLACE "<!-- snippet: ([A-Za-z0-9_-]+) -->" "\\1" name "${marker}")
  if(name IN_LIST found)
    message(FATAL_ERROR "${README}: two snippets are named ${name}")
  endif()
  list(APPEND found ${name})
  string(FIND "${text}" "${marker}\n" at)
  if(at LESS 0)
    message(FATAL_ERROR "${README}: the marker of snippet ${name} must end its line")
  endif()
  string(LENGTH "${marker}\n" marker_length)
  math(EXPR after "${at} + ${marker_length}")
  string(SUBSTRING "${text}" ${after} -1 rest)
  string(FIND "${rest}" "```cpp\n" fence)
  if(NOT fence EQUAL 0)
    message(FATAL_ERROR "${README}: snippet ${name}: the line after its marker must open a ```cpp block")
  endif()
  string(SUBSTRING "${rest}" 7 -1 rest)
  string(FIND "${rest}" "\n```" close)
  if(close LESS 0)
    message(FATAL_ERROR "${README}: snippet ${name}: the ```cpp block is not closed")
  endif()
  string(SUBSTRING "${rest}" 0 ${close} body)
  # The README line of the snippet's first line: 1 + the newlines before it (marker and fence).
  string(SUBSTRING "${text}" 0 ${after} before)
  string(REGEX MATCHALL "\n" newlines "${before}")
  list(LENGTH newlines line)
  math(EXPR line "${line} + 2")
  # #include lines go to file scope; in the body they become blank, keeping the line numbers.
  # (A leading newline lets one pattern find them on the first line too, without '^'.)
  string(REGEX MATCHALL "\n#include[^\n]*" includes "\n${body}")
  string(REPLACE "\n" "" includes "${includes}")
  string(REPLACE ";" "\n" includes "${includes}")
  string(REGEX REPLACE "\n#include[^\n]*" "\n" body "\n${body}")
  string(SUBSTRING "${body}" 1 -1 body)
  set(header "// Generated from README.md by tests/readme_snippets.cmake: edit the README, not this file.\n")
  write_if_changed("${OUT}/${name}.inc" "${header}#line ${line} \"${README}\"\n${body}\n")
  write_if_changed("${OUT}/${name}.includes.inc" "${header}${includes}\n")
endforeach()

foreach(name IN LISTS expected)
  if(NOT name IN_LIST found)
    message(FATAL_ERROR "${README}: no snippet named ${name} (tests/test_readme.cpp tests it; mark it "
                        "with <!-- snippet: ${name} --> before its ```cpp block)")
  endif()
endforeach()
foreach(name IN LISTS found)
  if(NOT name IN_LIST expected)
    message(FATAL_ERROR "${README}: snippet ${name} has no test: add it to readme_snippets in "
                        "tests/CMakeLists.txt and a TEST_CASE that includes it to tests/test_readme.cpp")
  endif()
endforeach()
