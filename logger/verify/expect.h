/*
 * The content oracle for the file workloads: what each workload's file must
 * hold, byte for byte, after a complete run, computed by replaying the
 * generators the guest user program used (include/abi/wlfile.h), and a
 * page-by-page comparison with what the image actually holds.
 */
#ifndef LOGGER_EXPECT_H
#define LOGGER_EXPECT_H

#include <stdint.h>
#include <stdio.h>

#include "abi/syscall.h"

/*
 * The exact bytes the file of workload a->workload (abi_wl_file_name())
 * must hold after a complete run.  On success *buf is a malloc'd buffer of
 * *size bytes the caller frees, and 0 is returned.
 *
 * The file starts as pages * 4096 zero bytes (log: empty, growing by one
 * record per append).  db and mixed: every store of writer 0 of 1, later
 * stores winning; shared2: both writers' stores (disjoint words); private
 * and forkcow: only the initial words, since no private store may reach the
 * file; log: the records back to back.
 *
 * Returns -ENOENT for workloads with no checkable content (badsys, whose
 * file its checks scribble on; badblk; the anonymous workloads), -EINVAL for
 * zero pages or sizes that overflow, -EFBIG when the log's records would not
 * fit its pages * 4096 byte capacity (the guest's appends would fail), and
 * -ENOMEM.
 */
int expect_content(const struct abi_wl_args *a, uint8_t **buf, uint64_t *size);

/*
 * Compare a file's actual bytes `got` with the expected `want`, page by
 * 4 KiB page.  Returns the number of pages that differ: a page differs if
 * any byte both buffers hold differs, or if the page extends past the end
 * of one buffer but not the other (a size difference).  If err is not NULL,
 * a size difference is printed as one line, and the first max_print (<= 0:
 * none) differing pages one line each, naming the first differing 8-byte
 * word, e.g.
 *   dirtyscope: verify: file db page 3: word 5 (offset 0x3028) is 0x0, expected 0x9e37...
 * followed by a count of the differing pages not printed, if any.
 */
uint64_t expect_diff(const char *file, const uint8_t *got, uint64_t got_size, const uint8_t *want,
		     uint64_t want_size, FILE *err, int max_print);

#endif
