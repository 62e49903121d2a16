/* The dirtyscope command: exit codes and subcommands. */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

/* Exit codes (docs/cli.md). */
#define DS_EXIT_OK	    0	/* success */
#define DS_EXIT_CHECK	    1	/* a check failed: lost pages */
#define DS_EXIT_USAGE	    2	/* bad option, value or input */
#define DS_EXIT_PLATFORM    3	/* no /dev/kvm, no permission, capability missing */
#define DS_EXIT_FAILED	    4	/* the guest crashed or a KVM call failed mid-run */
#define DS_EXIT_MIGRATION   5	/* live migration did not happen (docs/migration.md) */
#define DS_EXIT_INTERRUPTED 130 /* SIGINT or SIGTERM: stopped, no output file kept */

/* Each returns the process exit code. */
int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_mkimage(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_verify_image(int argc, char **argv);
int cmd_receive(int argc, char **argv);

/* Print "dirtyscope: <msg>" and return DS_EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Map a library -errno to an exit code. */
int exit_code_for(int err);

#endif
