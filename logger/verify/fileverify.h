/*
 * The image check of file workloads: after the run, the image must hold
 * exactly the bytes the workload's seed says it wrote.
 */
#ifndef LOGGER_FILEVERIFY_H
#define LOGGER_FILEVERIFY_H

#include <stdio.h>

#include "abi/syscall.h"
#include "util/fail.h"
#include "vmm/boot.h"

/* The arguments the guest's user program gets for workload wl. */
struct abi_wl_args fileverify_args(const struct boot_workload *wl);

/*
 * Compare the workload's file in the image at `path` with the content the
 * workload must have produced (logger/verify/expect.h).  Returns 0 when it matches
 * or the workload has no checkable content, a positive count of differing
 * 4 KiB pages (the first ones are printed on err), -EINVAL when the image is
 * no longer valid DSFS or lacks the file (printed), or another -errno.
 */
long fileverify_image(const char *path, const struct boot_workload *wl, FILE *err);

/* What a fileverify_image result means (util/fail.h): differing pages, or an
 * image no longer valid DSFS or lacking the file, are a failed check; any
 * other failure (reading the image, computing the expected content) is the
 * host's, DS_FAIL_IO; 0 is DS_FAIL_NONE. */
enum ds_fail fileverify_fail(long result);

#endif
