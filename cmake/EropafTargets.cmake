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
