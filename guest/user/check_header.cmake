# Check user.bin's header (struct abi_user_header, include/abi/syscall.h)
# against the file itself: magic, file_len equal to the file's size, entry
# inside the read-only text, text_len a page multiple within file_len,
# mem_len covering file_len, reserved 0.  Run as
#   cmake -DBIN=user.bin -P check_header.cmake
file(SIZE ${BIN} size)
file(READ ${BIN} hdr LIMIT 48 HEX)

# Little-endian 64-bit field `i` of the header, as a 0x... string.
function(field i out)
  math(EXPR start "${i} * 16")
  string(SUBSTRING "${hdr}" ${start} 16 le)
  set(be "")
  foreach(b RANGE 0 14 2)
    string(SUBSTRING "${le}" ${b} 2 byte)
    set(be "${byte}${be}")
  endforeach()
  set(${out} "0x${be}" PARENT_SCOPE)
endfunction()

field(0 magic)
field(1 entry)
field(2 file_len)
field(3 mem_len)
field(4 text_len)
field(5 reserved)
if(NOT magic STREQUAL "0x5245535553445344")
  message(FATAL_ERROR "${BIN}: bad magic ${magic}")
endif()
math(EXPR file_len "${file_len}")
math(EXPR mem_len "${mem_len}")
math(EXPR text_len "${text_len}")
math(EXPR reserved "${reserved}")
math(EXPR entry_off "${entry} - 0x400000")
math(EXPR text_rem "${text_len} % 4096")
if(NOT file_len EQUAL size)
  message(FATAL_ERROR "${BIN}: header file_len ${file_len} but the file has ${size} bytes")
endif()
if(mem_len LESS file_len OR text_len GREATER file_len OR NOT text_rem EQUAL 0
   OR entry_off LESS 48 OR NOT entry_off LESS text_len OR NOT reserved EQUAL 0)
  message(FATAL_ERROR "${BIN}: bad header: entry ${entry}, file_len ${file_len}, "
                      "mem_len ${mem_len}, text_len ${text_len}, reserved ${reserved}")
endif()
