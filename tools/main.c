/* dirtyscope: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

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
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return ds_exit_code(DS_FAIL_USAGE);
	}
	const char *cmd = argv[1];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return ds_exit_code(commands[i].run(argc - 1, argv + 1));
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return ds_exit_code(DS_FAIL_NONE);
	}
	if (!strcmp(cmd, "--version")) {
		printf("dirtyscope 0.1.0\n");
		return ds_exit_code(DS_FAIL_NONE);
	}
	return ds_exit_code(usage_error("unknown command '%s' (try 'dirtyscope --help')", cmd));
}
