/*
 * A subsystem's part of the run's outputs.
 *
 * The epoch record and the run summary (logger/epoch.h) hold what every run
 * has.  A subsystem with figures of its own (host writeback, live migration,
 * and whatever comes next) implements this interface, keeps its figures in
 * its own structures, and the session hangs it on the record; the printers
 * (logger/output.c) call it at fixed places.  So adding a subsystem edits
 * neither the shared record nor the printers.
 *
 * Every callback may be NULL.  `verified` tells whether the run's oracles
 * ran (--verify), for figures that only mean something then.
 */
#ifndef UTIL_REPORT_H
#define UTIL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct report_ext {
	/* JSON fields (",\"name\":value"...) appended to an epoch's object. */
	void (*json_epoch)(const struct report_ext *x, FILE *f, bool verified);
	/* Whole JSON objects (one per line) written before the summary object. */
	void (*json_before_summary)(const struct report_ext *x, FILE *f);
	/* JSON fields appended to the summary object. */
	void (*json_summary)(const struct report_ext *x, FILE *f, bool verified);
	/* Table lines before and after the summary line. */
	void (*table_before_summary)(const struct report_ext *x, FILE *f);
	void (*table_after_summary)(const struct report_ext *x, FILE *f, bool verified);
};

/* The structure a report_ext is embedded in, from a pointer to it. */
#define report_container(ptr, type, member) ((type *)((const char *)(ptr) - offsetof(type, member)))

#endif
