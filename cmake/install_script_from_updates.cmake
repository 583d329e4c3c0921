# Writes the install script of the newest extension version as the base
# install script followed by every update script in order, so that
# `CREATE EXTENSION rulekeeper` (0.2) and `CREATE EXTENSION rulekeeper
# VERSION '0.1'` + `ALTER EXTENSION rulekeeper UPDATE` run the same
# statements and give the same catalog (docs/design/upgrades.md).
# Each update script's guard line (`\echo ... \quit`, which stops psql from
# running it by hand) is left out: only the base script's guard stays.
#
#   cmake -DBASE=build/sql/rulekeeper--0.1.sql
#         -DUPDATES="build/sql/rulekeeper--0.1--0.2.sql"
#         -DOUT=build/sql/rulekeeper--0.2.sql -P install_script_from_updates.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT BASE OR NOT UPDATES OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DBASE=<install script> -DUPDATES=<update scripts> -DOUT=<new install script> -P install_script_from_updates.cmake")
endif()
file(READ "${BASE}" text)
get_filename_component(out_name "${OUT}" NAME)
string(REGEX REPLACE "^-- rulekeeper [0-9.]+:" "-- rulekeeper (install script ${out_name}, generated: base script + update scripts):" text "${text}")
foreach(update IN LISTS UPDATES)
  file(READ "${update}" piece)
  string(REGEX REPLACE "(^|\n)\\\\echo [^\n]*\\\\quit\n" "\\1" piece "${piece}")
  get_filename_component(update_name "${update}" NAME)
  string(APPEND text "\n-- ======== ${update_name} ========\n${piece}")
endforeach()
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
