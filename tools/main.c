/* dirtyscope: subcommand dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "tools/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope <command> [options]\n"
		   "\n"
		   "commands:\n"
		   "  run      boot the guest, run a workload and log its dirty pages\n"
		   "  compare  run a file workload; guest versus host dirty tracking\n"
		   "  info     what this host's KVM offers for dirty logging\n"
		   "  mkimage  create a DSFS disk image for the guest, or check one\n"
		   "  recover  bring an image to its last committed host writeback epoch\n"
		   "  verify-image  check an image and its host writeback journal\n"
		   "  receive  the destination of a live migration (run --migrate-to)\n"
		   "\n"
		   "'dirtyscope <command> --help' describes each command.\n"
		   "exit codes: 0 ok, 1 check failed (lost pages, invalid image), 2 usage or\n"
		   "            input error, 3 platform cannot do it, 4 guest crashed, KVM\n"
		   "            failed mid-run or an I/O error, 5 live migration did not\n"
		   "            happen, 130 interrupted\n");
}

int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_verr(fmt, ap);
	va_end(ap);
	return DS_EXIT_USAGE;
}

int exit_code_for(int err)
{
	switch (err) {
	case 0:
		return DS_EXIT_OK;
	case 1:
	case -EOVERFLOW: /* the dirty log itself lost entries (dirty ring overflow) */
		return DS_EXIT_CHECK;
	case -EINVAL:
	case -E2BIG:
		return DS_EXIT_USAGE;
	case -ENOENT:
	case -EACCES:
	case -EPERM:
	case -ENODEV:
	case -ENXIO:
	case -EOPNOTSUPP:
		return DS_EXIT_PLATFORM;
	case -EINTR:
		return DS_EXIT_INTERRUPTED;
	default:
		return DS_EXIT_FAILED;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return DS_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "compare"))
		return cmd_compare(argc - 1, argv + 1);
	if (!strcmp(cmd, "recover"))
		return cmd_recover(argc - 1, argv + 1);
	if (!strcmp(cmd, "verify-image"))
		return cmd_verify_image(argc - 1, argv + 1);
	if (!strcmp(cmd, "receive"))
		return cmd_receive(argc - 1, argv + 1);
	if (!strcmp(cmd, "mkimage"))
		return cmd_mkimage(argc - 1, argv + 1);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return DS_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("dirtyscope 0.1.0\n");
		return DS_EXIT_OK;
	}
	return usage_error("unknown command '%s' (try 'dirtyscope --help')", cmd);
}
