/* dirtyscope: subcommand dispatch. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "util/io.h"
#include "util/log.h"

/*
 * A closed stdin, stdout or stderr (`dirtyscope run >&-`) would make the
 * next open() return that number, and the table would be written into the
 * disk image.  Fill the gap with /dev/null opened read-only: reads see EOF,
 * writes fail (EBADF), and the failed write is found at exit.
 */
static void fill_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int n = open("/dev/null", O_RDONLY);
			if (n >= 0 && n != fd)
				close(n); /* a lower one was free: filled already */
		}
}

/*
 * Everything a command printed on stdout must have reached it: the table,
 * `--json -`, a listing.  The sinks flush every line, so a failure earlier
 * left only the error flag; check it, then flush and close what is left.
 * A command that succeeded, or only found a failed check, fails with the
 * I/O category instead; one that failed otherwise keeps its own code, and
 * its one line.
 */
static enum ds_fail check_stdout(enum ds_fail fail)
{
	/* A sink's line-by-line io_flush kept the errno of the first failed
	 * write; a listing's failure shows in this flush. */
	int bad = ferror(stdout);
	int ret = io_flush(stdout);
	if (ret)
		bad = 1;
	int err = bad ? io_stream_errno(stdout) ?: -ret : 0;
	if (fclose(stdout) && !bad) {
		bad = 1;
		err = errno;
	}
	if (!bad || (fail != DS_FAIL_NONE && fail != DS_FAIL_CHECK))
		return fail;
	log_err("stdout: write failed%s%s", err ? ": " : "", err ? strerror(err) : "");
	return DS_FAIL_IO;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope <command> [options]\n"
		   "       dirtyscope --version\n"
		   "\n"
		   "commands:\n"
		   "  run      boot the guest, run a workload and log its dirty pages\n"
		   "  compare  run a file workload; guest versus host dirty tracking\n"
		   "  info     what this host's KVM offers for dirty logging\n"
		   "  mkimage  create a DSFS disk image for the guest, or check one\n"
		   "  recover  bring an image to its last committed host writeback epoch\n"
		   "  verify-image  check an image and its host writeback journal\n"
		   "  receive  the destination of a live migration (run --migrate-to)\n"
		   "  libvirt  QEMU's dirty rate of libvirt domains, and its accuracy\n"
		   "\n"
		   "  -V, --version  print dirtyscope's version\n"
		   "  -h, --help     this text\n"
		   "\n"
		   "'dirtyscope <command> --help' describes each command; each also has a\n"
		   "man page, dirtyscope-<command>(1).\n"
		   "\n");
	cli_exit_status(f, NULL);
}

/* The subcommands, by name. */
static const struct {
	const char *name;
	enum ds_fail (*run)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run},
    {"info", cmd_info},
    {"compare", cmd_compare},
    {"recover", cmd_recover},
    {"verify-image", cmd_verify_image},
    {"receive", cmd_receive},
    {"mkimage", cmd_mkimage},
    {"libvirt", cmd_libvirt},
};

int main(int argc, char **argv)
{
	fill_std_fds();
	if (argc < 2) {
		usage(stderr);
		return ds_exit_code(DS_FAIL_USAGE);
	}
	const char *cmd = argv[1];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return ds_exit_code(check_stdout(commands[i].run(argc - 1, argv + 1)));
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return ds_exit_code(check_stdout(DS_FAIL_NONE));
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		/* CMake's project(VERSION), the one place it is written. */
		printf("dirtyscope %s\n", DIRTYSCOPE_VERSION);
		return ds_exit_code(check_stdout(DS_FAIL_NONE));
	}
	return ds_exit_code(usage_error("unknown command '%s' (try 'dirtyscope --help')", cmd));
}
