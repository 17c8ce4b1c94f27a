# grace_module(NAME <name> DEPS <targets...> [PRIVATE_DEPS ...] [PRIVATE_INCLUDES ...] [SUBDIRS ...])
#   Builds src/<name>/*.cpp (and src/<name>/<subdir>/*.cpp) into the static library grace_<name>,
#   with include/ public.
function(grace_module)
  cmake_parse_arguments(M "" "NAME" "DEPS;PRIVATE_DEPS;PRIVATE_INCLUDES;SUBDIRS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(sub ${M_SUBDIRS})
    file(GLOB sub_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${sub}/*.cpp)
    list(APPEND sources ${sub_sources})
  endforeach()
  if(NOT sources)
    # A module with no sources yet: an interface target keeps dependants linking.
    add_library(grace_${M_NAME} INTERFACE)
    target_include_directories(grace_${M_NAME} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(grace_${M_NAME} INTERFACE ${M_DEPS})
    return()
  endif()
  add_library(grace_${M_NAME} STATIC ${sources})
  target_include_directories(grace_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                             PRIVATE ${PROJECT_SOURCE_DIR}/src ${M_PRIVATE_INCLUDES})
  target_link_libraries(grace_${M_NAME} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()

# grace_test(NAME <name> DEPS <targets...> [CLI])   CLI: the tests run the grace binary
#   Builds tests/<name>/*_test.cpp into one gtest binary <name>_test and registers its cases with ctest.
function(grace_test)
  cmake_parse_arguments(T "CLI" "NAME" "DEPS;LABELS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(${T_NAME}_test ${sources})
  target_include_directories(${T_NAME}_test PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${T_NAME}_test PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${T_NAME}_test PRIVATE
    GRACE_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data"
    GRACE_CLI_PATH="$<TARGET_FILE:grace>"
    GRACE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(T_CLI)
    add_dependencies(${T_NAME}_test grace)  # the tests run the CLI binary
  endif()
  # gtest_discover_tests flattens lists in PROPERTIES: escape the separators of the label list.
  set(labels ${T_NAME} ${T_LABELS})
  string(REPLACE ";" "\\;" labels "${labels}")
  gtest_discover_tests(${T_NAME}_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${labels}")
endfunction()
