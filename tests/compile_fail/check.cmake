# Compiles SOURCE twice: without QNN_EXPECT_COMPILE_ERROR it must compile (so the snippet itself is
# valid), with it the compiler must fail and print the text of the file's "// expect:" line.
file(STRINGS "${SOURCE}" expect_line REGEX "^// expect: ")
string(REGEX REPLACE "^// expect: " "" expect "${expect_line}")
# QNN_COMPILED_REGISTRY: the snippets use the kernel and tensor types, not the operator registry;
# without the operator headers each compile takes about half the time (runtime/ops/registry.hpp).
set(cmd ${COMPILER} -std=c++20 -fsyntax-only -DQNN_COMPILED_REGISTRY -I${INCLUDE_DIR} ${SOURCE})
execute_process(COMMAND ${cmd} RESULT_VARIABLE ok_rc ERROR_VARIABLE ok_err OUTPUT_QUIET)
if(NOT ok_rc EQUAL 0)
  message(FATAL_ERROR "the valid variant of ${SOURCE} does not compile:\n${ok_err}")
endif()
execute_process(COMMAND ${cmd} -DQNN_EXPECT_COMPILE_ERROR RESULT_VARIABLE bad_rc ERROR_VARIABLE bad_err OUTPUT_QUIET)
if(bad_rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled with QNN_EXPECT_COMPILE_ERROR; it must not")
endif()
string(FIND "${bad_err}" "${expect}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile, but not with \"${expect}\":\n${bad_err}")
endif()
message(STATUS "${SOURCE}: rejected with \"${expect}\"")
