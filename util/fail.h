/*
 * What failed, as a category: the one thing the command line turns into an
 * exit code (tools/main.c, docs/cli.md).
 *
 * Library code still returns 0 or -errno, and prints its one line where the
 * failure happens.  An errno says how a system call failed, not what that
 * means for the run: EINVAL from KVM_RUN mid-run is a KVM failure, not a
 * usage error, and EPERM from a harvest ioctl is not a platform that cannot
 * run dirtyscope.  So the category is decided by the code that knows what it
 * was doing when the failure came, and is passed up beside the -errno:
 *
 *   - the session by its phase: setting the machine up (the platform refused,
 *     or the configuration does not fit), loading an incoming guest (the
 *     migration did not happen), or running the guest (anything after the
 *     guest's first instruction: KVM calls, the guest itself, harvests, host
 *     writeback I/O);
 *   - a step that can fail in more than one way says which, explicitly: a
 *     dirty-log mode's supported() returns a category, a harvest marks an
 *     overflowed log, the run loop remembers a stop request;
 *   - a library whose functions document distinct refusals (DSFS images, the
 *     host writeback journal, the image check) names the category of each
 *     beside that contract, once, so no caller re-derives it from the errno.
 *
 * Header-only and libc-free, so every library (and tests) can include it.
 */
#ifndef UTIL_FAIL_H
#define UTIL_FAIL_H

enum ds_fail {
	DS_FAIL_NONE = 0,    /* nothing failed */
	DS_FAIL_CHECK,	     /* a check failed: lost pages, an overflowed log, an image
				mismatch, an invalid image under --check */
	DS_FAIL_USAGE,	     /* usage or input: options, values, an image or address that
				cannot serve, a configuration the mode cannot take */
	DS_FAIL_PLATFORM,    /* the platform cannot do it: no KVM device, no permission,
				a capability missing, KVM or the host refused the setup */
	DS_FAIL_RUN,	     /* the guest or KVM failed mid-run, or host I/O during it */
	DS_FAIL_IO,	     /* the host failed outside a run: I/O on an image, a journal,
				an output file; memory for the image check */
	DS_FAIL_MIGRATION,   /* a live migration did not happen */
	DS_FAIL_INTERRUPTED, /* SIGINT or SIGTERM stopped it */
};

/* Exit codes (docs/cli.md). */
#define DS_EXIT_OK	    0	/* success */
#define DS_EXIT_CHECK	    1	/* a check failed: lost pages, an image mismatch */
#define DS_EXIT_USAGE	    2	/* bad option, value or input */
#define DS_EXIT_PLATFORM    3	/* no /dev/kvm, no permission, capability missing */
#define DS_EXIT_FAILED	    4	/* the guest or KVM failed mid-run, or host I/O */
#define DS_EXIT_MIGRATION   5	/* live migration did not happen (docs/migration.md) */
#define DS_EXIT_INTERRUPTED 130 /* SIGINT or SIGTERM: stopped */

/* The exit code for a category: the only place one is chosen.  Here rather
 * than in the command line so that a run's JSON summary can say the code
 * the process is about to exit with. */
static inline int ds_fail_exit(enum ds_fail fail)
{
	switch (fail) {
	case DS_FAIL_NONE:
		return DS_EXIT_OK;
	case DS_FAIL_CHECK:
		return DS_EXIT_CHECK;
	case DS_FAIL_USAGE:
		return DS_EXIT_USAGE;
	case DS_FAIL_PLATFORM:
		return DS_EXIT_PLATFORM;
	case DS_FAIL_RUN:
	case DS_FAIL_IO:
		return DS_EXIT_FAILED;
	case DS_FAIL_MIGRATION:
		return DS_EXIT_MIGRATION;
	case DS_FAIL_INTERRUPTED:
		return DS_EXIT_INTERRUPTED;
	}
	return DS_EXIT_FAILED; /* not a category: a bug, and not a success */
}

/* A category's name in outputs (the JSON summary's "failure"); NULL for
 * DS_FAIL_NONE. */
static inline const char *ds_fail_name(enum ds_fail fail)
{
	switch (fail) {
	case DS_FAIL_NONE:
		return 0;
	case DS_FAIL_CHECK:
		return "check-failed";
	case DS_FAIL_USAGE:
		return "usage";
	case DS_FAIL_PLATFORM:
		return "platform";
	case DS_FAIL_RUN:
		return "guest-or-kvm-failed";
	case DS_FAIL_IO:
		return "host-io";
	case DS_FAIL_MIGRATION:
		return "migration";
	case DS_FAIL_INTERRUPTED:
		return "interrupted";
	}
	return "unknown";
}

#endif
