/*
 * Holding off the stop signals.  SIGINT and SIGTERM end a run cleanly
 * (tools/runopts_out.h): their handler only asks the run loop to stop.  Yet
 * a handler that runs in the middle of a system call can still make that
 * call fail with EINTR (an fdatasync on a network or FUSE file system, say),
 * and a journal commit or checkpoint that fails at its fdatasync is left in
 * doubt (logger/hostwb/journal.h).  Work that must finish once begun blocks
 * the two signals around itself: one that comes meanwhile stays pending and
 * is handled, all the same, the moment the work is done.
 */
#ifndef UTIL_SIGMASK_H
#define UTIL_SIGMASK_H

#include <signal.h>

/* Block SIGINT and SIGTERM in the calling thread; *old receives the mask
 * to give back to sigmask_restore. */
void sigmask_block_stop(sigset_t *old);

/* Put back the mask sigmask_block_stop saved: a stop signal that came in
 * between is handled before this returns. */
void sigmask_restore(const sigset_t *old);

#endif
