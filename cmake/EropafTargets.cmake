# Per-target build settings. Flags are set per target through these helpers, never globally.

# eropaf_target_defaults(<target>): warnings (errors when EROPAF_WERROR) and sanitizers.
function(eropaf_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    $<$<BOOL:${EROPAF_WERROR}>:-Werror>)
  eropaf_target_sanitize(${target})
endfunction()

# eropaf_target_sanitize(<target>): sanitizers only, for targets whose own code we do not warn
# about (generated protobuf code) but which must be instrumented like the rest.
function(eropaf_target_sanitize target)
  # A fuzzing build instruments every eropaf target for coverage, so libFuzzer is guided by the
  # library's branches and not only the harness's.
  if(EROPAF_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(EROPAF_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${EROPAF_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
    target_link_options(${target} PUBLIC -fsanitize=${EROPAF_SANITIZE})
  endif()
endfunction()

# eropaf_add_jar(<target> OUTPUT <jar> SOURCE_DIR <dir> CLASSPATH <jar:jar...>
#                [PROTO_FILES <abs .proto...>] [DEPENDS <files...>])
# Compiles every .java file under SOURCE_DIR (plus, with PROTO_FILES, the protobuf-java code
# protoc generates from them) into OUTPUT through cmake/BuildJar.cmake, as an ALL target.
# Needs find_package(Java) to have run (its executables are cached).
function(eropaf_add_jar target)
  cmake_parse_arguments(J "" "OUTPUT;SOURCE_DIR;CLASSPATH" "PROTO_FILES;DEPENDS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${J_SOURCE_DIR}/*.java)
  set(proto_args)
  if(J_PROTO_FILES)
    # '|'-separated: a ';' list would split into separate arguments here.
    string(REPLACE ";" "|" protos "${J_PROTO_FILES}")
    set(proto_args -DPROTOC=${Protobuf_PROTOC_EXECUTABLE} -DPROTO_DIR=${PROJECT_SOURCE_DIR}/proto
      -DPROTO_FILES=${protos})
  endif()
  get_filename_component(name ${J_OUTPUT} NAME_WE)
  add_custom_command(OUTPUT ${J_OUTPUT}
    COMMAND ${CMAKE_COMMAND} ${proto_args}
      -DJAVAC=${Java_JAVAC_EXECUTABLE} -DJAR=${Java_JAR_EXECUTABLE}
      -DSRC_DIR=${J_SOURCE_DIR} "-DCLASSPATH=${J_CLASSPATH}"
      -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/${name}-build -DOUT=${J_OUTPUT}
      -P ${PROJECT_SOURCE_DIR}/cmake/BuildJar.cmake
    DEPENDS ${sources} ${J_PROTO_FILES} ${J_DEPENDS} ${PROJECT_SOURCE_DIR}/cmake/BuildJar.cmake
    COMMENT "Building ${name}.jar"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${J_OUTPUT})
endfunction()
