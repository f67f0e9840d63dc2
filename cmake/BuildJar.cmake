# cmake -P BuildJar.cmake: compiles Java sources (and, with PROTO_FILES, the protobuf-java code
# protoc generates from them) into one jar.
#   PROTOC, PROTO_DIR, PROTO_FILES  optional: generate Java from these .proto files
#                                   ('|'- or ';'-separated)
#   JAVAC, JAR                      the JDK tools
#   SRC_DIR                         folder of .java sources (searched recursively)
#   CLASSPATH                       ':'-separated jars to compile against
#   WORK_DIR, OUT                   scratch folder and the jar to write
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/gen ${WORK_DIR}/classes)
if(PROTO_FILES)
  string(REPLACE "|" ";" PROTO_FILES "${PROTO_FILES}")
  execute_process(COMMAND ${PROTOC} --java_out=${WORK_DIR}/gen -I ${PROTO_DIR} ${PROTO_FILES}
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "protoc --java_out failed (${rc})")
  endif()
endif()
file(GLOB_RECURSE sources ${WORK_DIR}/gen/*.java ${SRC_DIR}/*.java)
execute_process(COMMAND ${JAVAC} -encoding UTF-8 --release 11 -nowarn -d ${WORK_DIR}/classes
    -cp ${CLASSPATH} ${sources}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "javac failed (${rc})")
endif()
execute_process(COMMAND ${JAR} cf ${OUT} -C ${WORK_DIR}/classes . RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "jar failed (${rc})")
endif()
