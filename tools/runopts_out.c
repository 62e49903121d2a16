/*
 * Output files, sinks and stop signals for the commands that run a session
 * (tools/runopts_out.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/output.h"
#include "tools/cli.h"
#include "util/io.h"
#include "util/log.h"
#include "tools/runopts_out.h"

enum ds_fail out_file_open(struct out_file *j, const char *opt, const char *path)
{
	j->path = path;
	j->opt = opt;
	if (!strcmp(path, "-")) {
		j->f = stdout;
		return DS_FAIL_NONE;
	}
	/* A device or FIFO (/dev/null, a pipe) is a stream: write it directly.
	 * Renaming a temporary over it would replace the device node. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return usage_error("%s %s: is a directory", opt, path);
		j->f = fopen(path, "w");
		if (!j->f)
			return usage_error("%s %s: cannot open: %s", opt, path, strerror(errno));
		j->stream = 1;
		return DS_FAIL_NONE;
	}
	if (snprintf(j->tmp, sizeof(j->tmp), "%s.tmp-%d", path, (int)getpid()) >=
	    (int)sizeof(j->tmp))
		return usage_error("%s %s: path too long", opt, path);
	j->f = fopen(j->tmp, "w");
	if (!j->f)
		return usage_error("%s %s: cannot create %s: %s", opt, path, j->tmp,
				   strerror(errno));
	return DS_FAIL_NONE;
}

enum ds_fail out_file_close(struct out_file *j, int keep)
{
	if (!j->f || j->f == stdout)
		return DS_FAIL_NONE;
	/* The sinks flush every line (io_flush), so a failed write left only
	 * the error flag, and its errno with io_stream_errno: fclose alone
	 * would report success, and errno now would say nothing. */
	int err = 0;
	int bad = ferror(j->f);
	int ret = io_flush(j->f);
	if (ret || bad)
		err = io_stream_errno(j->f) ?: -ret;
	if (!j->stream && !bad && !ret && fsync(fileno(j->f))) {
		bad = 1;
		err = errno;
	}
	io_stream_forget(j->f);
	if (fclose(j->f) && !bad && !ret) {
		bad = 1;
		err = errno;
	}
	bad |= ret != 0;
	j->f = NULL;
	if (!bad && keep && !j->stream && rename(j->tmp, j->path)) {
		bad = 1;
		err = errno;
	}
	if (!j->stream && (bad || !keep))
		unlink(j->tmp);
	if (!bad || !keep)
		return DS_FAIL_NONE;
	log_err("%s %s: write failed%s%s", j->opt, j->path, err ? ": " : "",
		err ? strerror(err) : "");
	return DS_FAIL_IO;
}

void runopts_add_sinks(struct session_config *cfg, const struct out_file *json, struct sink *js,
		       struct sink *table)
{
	if (json->f) {
		output_json_sink(js, json->f);
		cfg->sinks[cfg->nr_sinks++] = js;
	}
	if (json->f != stdout) {
		output_table_sink(table, stdout);
		cfg->sinks[cfg->nr_sinks++] = table;
	}
}

static void on_stop_signal(int sig)
{
	vm_request_stop();
}

void runopts_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
