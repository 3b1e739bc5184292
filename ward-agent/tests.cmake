# Unit tests of the ward agent's modules (no servers). They live in
# tests/unit/agent_*.c but are declared here, next to the code they test.
set(WS_AGENT_UNIT_TESTS outbox import inbox import_work excel reference)
foreach(area ${WS_AGENT_UNIT_TESTS})
  add_executable(unit_agent_${area}
    ${CMAKE_SOURCE_DIR}/tests/unit/agent_${area}.c)
  target_link_libraries(unit_agent_${area} PRIVATE
    ward_agent_core PkgConfig::CMOCKA PkgConfig::SQLITE PkgConfig::LIBZIP)
  target_include_directories(unit_agent_${area} PRIVATE
    ${CMAKE_SOURCE_DIR}/tests/unit)
  target_compile_definitions(unit_agent_${area} PRIVATE
    WS_AGENT_TESTDATA="${CMAKE_CURRENT_SOURCE_DIR}/testdata"
    WS_TEST_CATALOGUE="${CMAKE_SOURCE_DIR}/common/data/catalogue.csv")
  add_test(NAME unit_agent_${area} COMMAND unit_agent_${area})
  set_tests_properties(unit_agent_${area} PROPERTIES
    ENVIRONMENT "WARDSYNC_LOG=error;WARDSYNC_CATALOGUE="
    LABELS unit)
endforeach()

wardsync_test_environment()
