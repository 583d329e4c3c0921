# Every function kept in its own files (sql/udfs/<function>/) has a
# latest.sql equal to its newest versioned file (<version>.sql), as in Citus:
# latest.sql is what a reviewer diffs, the versioned files are what the
# install and upgrade scripts include — frozen once released.
#
#   cmake -DUDFS=sql/udfs -P check_udfs.cmake
cmake_minimum_required(VERSION 3.25)
file(GLOB functions LIST_DIRECTORIES true "${UDFS}/*")
set(status 0)
foreach(dir IN LISTS functions)
  if(NOT IS_DIRECTORY "${dir}")
    continue()
  endif()
  file(GLOB versions RELATIVE "${dir}" "${dir}/*.sql")
  list(REMOVE_ITEM versions latest.sql)
  if(NOT EXISTS "${dir}/latest.sql" OR NOT versions)
    message(SEND_ERROR "${dir}: needs latest.sql and at least one <version>.sql")
    continue()
  endif()
  list(SORT versions COMPARE NATURAL)
  list(GET versions -1 newest)
  file(READ "${dir}/latest.sql" latest)
  file(READ "${dir}/${newest}" versioned)
  if(NOT latest STREQUAL versioned)
    message(SEND_ERROR "${dir}: latest.sql differs from ${newest}, its newest version")
  endif()
endforeach()
