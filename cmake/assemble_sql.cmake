# Assembles an extension script from its main file: every line
#   #include "udfs/<function>/<version>.sql"
# is replaced by that file's bytes (paths relative to the main file's
# directory), as Citus builds its scripts. Nothing else changes: the output
# is the script PostgreSQL runs. A missing file, an include inside an
# included file, or an include line left over is an error.
#
#   cmake -DIN=sql/rulekeeper--0.1.sql -DOUT=build/sql/rulekeeper--0.1.sql -P assemble_sql.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT IN OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DIN=<main script> -DOUT=<assembled script> -P assemble_sql.cmake")
endif()
get_filename_component(base "${IN}" DIRECTORY)
file(READ "${IN}" text)
string(REGEX MATCHALL "(^|\n)#include \"[^\"\n]+\"\n" includes "${text}")
foreach(line IN LISTS includes)
  string(REGEX REPLACE "^\n?#include \"([^\"\n]+)\"\n$" "\\1" path "${line}")
  if(NOT EXISTS "${base}/${path}")
    message(FATAL_ERROR "${IN}: #include \"${path}\": no such file")
  endif()
  file(READ "${base}/${path}" piece)
  if(piece MATCHES "(^|\n)#include ")
    message(FATAL_ERROR "${base}/${path}: an included file includes nothing")
  endif()
  if(NOT piece MATCHES "\n$")
    message(FATAL_ERROR "${base}/${path}: must end with a newline")
  endif()
  string(REGEX REPLACE "^\n" "" bare "${line}")
  string(FIND "${text}" "${bare}" at)
  string(LENGTH "${bare}" len)
  string(SUBSTRING "${text}" 0 ${at} before)
  math(EXPR after_at "${at} + ${len}")
  string(SUBSTRING "${text}" ${after_at} -1 after)
  set(text "${before}${piece}${after}")
endforeach()
if(text MATCHES "(^|\n)#include ")
  message(FATAL_ERROR "${IN}: an #include line is left over")
endif()
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
