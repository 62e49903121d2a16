/*
 * What `receive` trusts (docs/migration.md, "Security"): the stream chooses
 * no file on this host, and the listening address is the user's.
 *
 *   disk         a real migration's stream, recorded from `run
 *                --migrate-to` by a fake receiver, HELLO rewritten to name
 *                another file (checksums re-sealed) and replayed to the
 *                real `receive`: refused (exit 2) without --image or
 *                --disk-dir, with --disk-dir and a name holding '/' or '..',
 *                or a symbolic link in DIR; the named file is byte for byte
 *                what it was, and the NACK the peer reads names no file.
 *                An --image that is not DSFS, not the source's size, or
 *                another image of that size (another identity) is refused
 *                too; --disk-dir with the right name migrates.
 *   address      tcp on anything but loopback needs --allow-remote (2).
 *   unix socket  a stale one (its receiver killed) is replaced; one that
 *                somebody listens on is refused (2) and that listener keeps
 *                working; a path that is not a socket is refused and never
 *                removed.
 *
 * The disk cases boot a guest (the recorded source) and need /dev/kvm;
 * without it the others still run and the suite exits 77, saying why.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define DS_PROC_TIMEOUT_S 300
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

#include "logger/migrate/migaddr.h"
#include "logger/migrate/migctl.h"
#include "logger/migrate/migrate.h"
#include "logger/migrate/migstream.h"
#include "logger/migrate/migstream_int.h"

#define CHECK	     DS_CHECK
#define GENERIC_NACK "the destination has no disk for this guest"

static char dir[64]; /* this run's scratch directory */

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The whole of a file, malloc'd; *len its size. */
static uint8_t *slurp_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	CU_ASSERT_FATAL(f != NULL);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	uint8_t *b = malloc((size_t)n + 1);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static bool same_bytes(const char *path, const uint8_t *want, size_t want_len)
{
	size_t n;
	uint8_t *b = slurp_file(path, &n);
	bool same = n == want_len && !memcmp(b, want, n);
	free(b);
	return same;
}

static void mkimage(const char *path, const char *size)
{
	struct ds_proc p;
	CU_ASSERT_EQUAL_FATAL(
	    ds_proc_run(&p, NULL, ARGS("mkimage", path, "--size", size, "--file", "db:256K")), 0);
	ds_proc_free(&p);
}

/* Wait (up to 10 s) until the started receiver says it is listening. */
static bool wait_listening(struct ds_proc *r)
{
	for (int i = 0; i < 200; i++) {
		char *e = ds_slurp(r->err_f);
		bool up = e && strstr(e, "waiting for a guest");
		free(e);
		if (up)
			return true;
		usleep(50000);
	}
	return false;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	snprintf(su.sun_path, sizeof(su.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&su, sizeof(su)) == 0);
	CU_ASSERT_FATAL(listen(fd, 4) == 0);
	return fd;
}

static bool can_connect(const char *path)
{
	struct migaddr a;
	char addr[200], why[256];
	snprintf(addr, sizeof(addr), "unix:%s", path);
	if (migaddr_parse(addr, &a, why, sizeof(why)))
		return false;
	int fd = migaddr_connect(&a, 2000, 2000, why, sizeof(why));
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- the recorded stream ---- */

static uint8_t *stream; /* a db migration's records, HELLO to END */
static size_t stream_len;
static char src_image[160]; /* the image the recorded source ran on */

static bool read_full(int fd, void *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t r = read(fd, (uint8_t *)p + off, n - off);
		if (r <= 0)
			return false;
		off += (size_t)r;
	}
	return true;
}

/* Be the receiver for a real `run --workload db --migrate-to`: take its
 * records up to END, then hang up (it finishes the guest itself, exit 5). */
static void record_stream(void)
{
	char sock[160], addr[170];
	path_in(sock, sizeof(sock), "record.sock");
	path_in(src_image, sizeof(src_image), "src-db.img");
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	mkimage(src_image, "1M");
	int lfd = listen_unix(sock);
	struct ds_proc p;
	ds_proc_start(&p, NULL,
		      ARGS("run", "--workload", "db", "--image", src_image, "--epochs", "6",
			   "--migrate-to", addr, "--migrate-after-epoch", "1", "--migrate-retries",
			   "0"));
	int fd = accept(lfd, NULL, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	size_t cap = 64 << 20;
	stream = malloc(cap);
	CU_ASSERT_FATAL(stream != NULL);
	for (;;) {
		struct migstream_rec h;
		CU_ASSERT_FATAL(read_full(fd, &h, sizeof(h)));
		size_t n = sizeof(h) + h.meta_len + (size_t)h.nr_data * MIGSTREAM_PAGE;
		CU_ASSERT_FATAL(stream_len + n <= cap);
		memcpy(stream + stream_len, &h, sizeof(h));
		CU_ASSERT_FATAL(read_full(fd, stream + stream_len + sizeof(h), n - sizeof(h)));
		stream_len += n;
		if (h.type == MIGSTREAM_END)
			break;
	}
	close(fd);
	close(lfd);
	unlink(sock);
	ds_proc_finish(&p);
	ds_proc_check_exit(&p, 5, NULL);
	ds_proc_free(&p);
	struct migrate_hello_cfg *c =
	    (void *)(stream + sizeof(struct migstream_rec) + sizeof(struct migstream_hello));
	CHECK(c->version == MIGRATE_CFG_VERSION && (c->flags & MIGRATE_CFG_F_DISK) &&
		  !strcmp(c->image, "src-db.img") && c->image_size == 1 << 20,
	      "HELLO: version %u, image '%s' of %llu bytes", c->version, c->image,
	      (unsigned long long)c->image_size);
}

/* A copy of the recorded stream whose HELLO names `image`, re-sealed. */
static uint8_t *stream_naming(const char *image)
{
	uint8_t *s = malloc(stream_len);
	CU_ASSERT_FATAL(s != NULL);
	memcpy(s, stream, stream_len);
	struct migstream_rec *h = (void *)s;
	struct migrate_hello_cfg *c = (void *)(s + sizeof(*h) + sizeof(struct migstream_hello));
	memset(c->image, 0, sizeof(c->image));
	snprintf(c->image, sizeof(c->image), "%s", image);
	h->csum = migstream_rec_csum(h, s + sizeof(*h), h->meta_len, NULL, 0, NULL);
	return s;
}

/*
 * Start `receive --listen unix:DIR/trust.sock` with extra options, replay s
 * to it as a source would (and, were it ACKed, send GO so the guest would
 * run on whatever disk the receiver took), then check the receiver exits 2
 * and the NACK the source read says only GENERIC_NACK.
 */
static void replay_refused(const uint8_t *s, const char *const *extra, const char *needle)
{
	char sock[160], addr[170], why[256], reason[MIGCTL_MAX_REASON + 1] = "";
	const char *args[16] = {"receive", "--listen", addr};
	int n = 3;
	path_in(sock, sizeof(sock), "trust.sock");
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	for (; extra && *extra; extra++)
		args[n++] = *extra;
	args[n] = NULL;

	struct ds_proc r;
	ds_proc_start(&r, NULL, args);
	CU_ASSERT_FATAL(wait_listening(&r));
	struct migaddr a;
	CU_ASSERT_FATAL(migaddr_parse(addr, &a, why, sizeof(why)) == 0);
	int fd = migaddr_connect(&a, 5000, 30000, why, sizeof(why));
	CU_ASSERT_FATAL(fd >= 0);
	size_t off = 0;
	while (off < stream_len) {
		ssize_t w = send(fd, s + off, stream_len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	uint32_t type = 0;
	uint64_t arg;
	if (off < stream_len) {
		if (migctl_peer_reason(fd, 10000, reason, sizeof(reason)))
			type = MIGCTL_NACK;
	} else if (!migctl_recv(fd, &type, &arg, reason, sizeof(reason), why, sizeof(why)) &&
		   type == MIGCTL_ACK) {
		migctl_send(fd, MIGCTL_GO, arg, NULL); /* as the source does */
	}
	close(fd);
	ds_proc_finish(&r);
	ds_proc_check_exit(&r, 2, ARGS("incoming migration refused", needle));
	CHECK(type == MIGCTL_NACK, "%s: the source got no NACK (type %#x)", r.cmd, type);
	CHECK(!strcmp(reason, GENERIC_NACK), "%s: the NACK says \"%s\"", r.cmd, reason);
	ds_proc_free(&r);
}

static bool have_kvm;

#define NEED_STREAM()                                                                              \
	do {                                                                                       \
		if (!stream)                                                                       \
			record_stream();                                                           \
	} while (0)

/* The victim: a valid DSFS image of the source's size, outside any disk
 * directory, so that only its path protects it. */
static uint8_t *make_victim(char *victim, size_t len, size_t *vlen)
{
	path_in(victim, len, "victim.img");
	unlink(victim);
	mkimage(victim, "1M");
	return slurp_file(victim, vlen);
}

static void test_hello_names_a_file(void)
{
	char victim[160];
	size_t vlen;
	NEED_STREAM();
	uint8_t *want = make_victim(victim, sizeof(victim), &vlen);
	uint8_t *s = stream_naming(victim);
	/* No disk named here: refused, whatever the stream says. */
	replay_refused(s, NULL, "--image FILE or --disk-dir DIR");
	CHECK(same_bytes(victim, want, vlen), "%s changed", victim);
	free(s);
	free(want);
}

static void test_disk_dir_names(void)
{
	char victim[160], disks[160], dotdot[200], link[200];
	size_t vlen;
	NEED_STREAM();
	uint8_t *want = make_victim(victim, sizeof(victim), &vlen);
	path_in(disks, sizeof(disks), "disks");
	mkdir(disks, 0700);
	const char *names[] = {"../victim.img", victim, "sub/victim.img", ".."};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t *s = stream_naming(names[i]);
		replay_refused(s, ARGS("--disk-dir", disks), "not a plain file name");
		CHECK(same_bytes(victim, want, vlen), "%s changed (name %s)", victim, names[i]);
		free(s);
	}
	/* A symbolic link in DIR is not followed out of it. */
	snprintf(link, sizeof(link), "%s/db.img", disks);
	snprintf(dotdot, sizeof(dotdot), "../victim.img");
	unlink(link);
	CU_ASSERT_FATAL(symlink(dotdot, link) == 0);
	uint8_t *s = stream_naming("db.img");
	replay_refused(s, ARGS("--disk-dir", disks), "symbolic link");
	CHECK(same_bytes(victim, want, vlen), "%s changed (through a symbolic link)", victim);
	free(s);
	unlink(link);
	rmdir(disks);
	free(want);
}

static void test_image_not_dsfs(void)
{
	char junk[160], small[160];
	NEED_STREAM();
	path_in(junk, sizeof(junk), "junk.img");
	uint8_t *want = malloc(1 << 20);
	CU_ASSERT_FATAL(want != NULL);
	memset(want, 0xab, 1 << 20);
	FILE *f = fopen(junk, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(want, 1, 1 << 20, f) == 1 << 20);
	fclose(f);
	replay_refused(stream, ARGS("--image", junk), junk);
	CHECK(same_bytes(junk, want, 1 << 20), "%s changed", junk);
	unlink(junk);
	free(want);
	/* Valid DSFS, but not the source's size. */
	path_in(small, sizeof(small), "small.img");
	mkimage(small, "512K");
	size_t slen;
	uint8_t *swant = slurp_file(small, &slen);
	replay_refused(stream, ARGS("--image", small), "the source's image has 1048576");
	CHECK(same_bytes(small, swant, slen), "%s changed", small);
	unlink(small);
	free(swant);
	/* Valid DSFS of the source's size, but another image (made alike,
	 * so only its identity differs): refused, untouched. */
	char other[160];
	path_in(other, sizeof(other), "other.img");
	mkimage(other, "1M");
	uint8_t *owant = slurp_file(other, &slen);
	replay_refused(stream, ARGS("--image", other), "is another image (identity");
	CHECK(same_bytes(other, owant, slen), "%s changed", other);
	unlink(other);
	free(owant);
	/* A device is not a disk here either. */
	replay_refused(stream, ARGS("--image", "/dev/null"), "not a regular file");
}

/* --disk-dir with the source's own file name: the guest moves.  A guest
 * that finishes before the switch-over (a fast or busy host) runs again,
 * on a fresh image, with more epochs. */
static void test_disk_dir_migrates(void)
{
	char disks[160], img[200], sock[200], addr[210];
	path_in(disks, sizeof(disks), "dd");
	mkdir(disks, 0700);
	snprintf(img, sizeof(img), "%s/db.img", disks);
	snprintf(sock, sizeof(sock), "%s/mig.sock", dir);
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	static const char *const tries[] = {"6", "24", "96"};
	for (size_t t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
		unlink(img);
		mkimage(img, "1M");
		struct ds_proc r, p;
		ds_proc_start(&r, NULL,
			      ARGS("receive", "--listen", addr, "--disk-dir", disks, "--verify"));
		CU_ASSERT_FATAL(wait_listening(&r));
		ds_proc_run(&p, NULL,
			    ARGS("run", "--workload", "db", "--image", img, "--epochs", tries[t],
				 "--migrate-to", addr, "--migrate-after-epoch", "1"));
		ds_proc_finish(&r);
		bool again = p.code == 5 &&
			     strstr(p.err, "the guest stopped before the switch-over") &&
			     t + 1 < sizeof(tries) / sizeof(tries[0]);
		if (!again) {
			ds_proc_check_exit(&p, 0, NULL);
			CHECK(strstr(p.out, "migration: completed") != NULL,
			      "no migration line: %s", p.out);
			ds_proc_check_exit(&r, 0, NULL);
		}
		ds_proc_free(&p);
		ds_proc_free(&r);
		if (!again)
			break;
	}
	unlink(img);
	rmdir(disks);
}

/* ---- addresses ---- */

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Start receive with args, see it listen, interrupt it: 130. */
static void listens(const char *const *args)
{
	struct ds_proc r;
	ds_proc_start(&r, NULL, args);
	bool up = wait_listening(&r);
	kill(r.pid, SIGINT);
	ds_proc_finish(&r);
	CHECK(up, "%s: did not listen: %s", r.cmd, r.err);
	ds_proc_check_exit(&r, 130, NULL);
	ds_proc_free(&r);
}

static void test_remote_tcp(void)
{
	char any[64], v6[64], name[64], lo[64], lo6[64], loname[64];
	int port = free_port();
	snprintf(any, sizeof(any), "tcp:0.0.0.0:%d", port);
	snprintf(v6, sizeof(v6), "tcp:[::]:%d", port);
	snprintf(name, sizeof(name), "tcp:example.invalid:%d", port);
	snprintf(lo, sizeof(lo), "tcp:127.0.0.1:%d", port);
	snprintf(lo6, sizeof(lo6), "tcp:[::1]:%d", port);
	snprintf(loname, sizeof(loname), "tcp:localhost:%d", port);
	const char *remote[] = {any, v6, name, "tcp:10.1.2.3:4444"};
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		ds_expect_fail(2, NULL, ARGS("not a loopback address", "--allow-remote"),
			       ARGS("receive", "--listen", remote[i]));
	listens(ARGS("receive", "--listen", lo));
	listens(ARGS("receive", "--listen", loname));
	int fd6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd6 >= 0) { /* a host without IPv6 cannot listen on ::1 at all */
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6,
					  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
		bool v6ok = bind(fd6, (struct sockaddr *)&s6, sizeof(s6)) == 0;
		close(fd6);
		if (v6ok)
			listens(ARGS("receive", "--listen", lo6));
	}
	listens(ARGS("receive", "--listen", any, "--allow-remote"));
}

/* ---- unix sockets ---- */

/* A receive killed by SIGKILL leaves its socket; the next one takes it. */
static void test_stale_socket(void)
{
	char sock[160], addr[170];
	path_in(sock, sizeof(sock), "stale.sock");
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	/* Not through ds_proc, which fails a case whose child a signal ends. */
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execl(DIRTYSCOPE_BIN, "dirtyscope", "receive", "--listen", addr, (char *)NULL);
		_exit(127);
	}
	struct stat st;
	for (int i = 0; i < 200 && lstat(sock, &st); i++)
		usleep(50000);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status), "the first receive was not killed (status %#x)", status);
	CU_ASSERT_FATAL(lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	listens(ARGS("receive", "--listen", addr));
	CHECK(access(sock, F_OK) != 0, "%s: left behind", sock);
}

/* Somebody listens: refused, and that listener is left alone. */
static void test_live_socket(void)
{
	char sock[160], addr[170];
	path_in(sock, sizeof(sock), "live.sock");
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	int lfd = listen_unix(sock);
	ds_expect_fail(2, NULL, ARGS("another process listens"), ARGS("receive", "--listen", addr));
	CHECK(can_connect(sock), "%s: the listener's socket is gone", sock);
	close(lfd);
	unlink(sock);

	/* A live receive survives another receive's probe and still works. */
	struct ds_proc r;
	ds_proc_start(&r, NULL, ARGS("receive", "--listen", addr));
	CU_ASSERT_FATAL(wait_listening(&r));
	ds_expect_fail(2, NULL, ARGS("another process listens"), ARGS("receive", "--listen", addr));
	usleep(200000);
	CHECK(can_connect(sock), "%s: the first receive stopped listening", sock);
	usleep(200000); /* back in accept(), where SIGINT ends it */
	kill(r.pid, SIGINT);
	ds_proc_finish(&r);
	ds_proc_check_exit(&r, 130, NULL);
	ds_proc_free(&r);
}

/* A path that is not a socket is refused and never removed. */
static void test_not_a_socket(void)
{
	char file[160], addr[170], link[160], ldaddr[170], sub[160], saddr[170];
	path_in(file, sizeof(file), "plain");
	snprintf(addr, sizeof(addr), "unix:%s", file);
	FILE *f = fopen(file, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("keep me\n", f);
	fclose(f);
	ds_expect_fail(2, NULL, ARGS("not a socket", "not removed"),
		       ARGS("receive", "--listen", addr));
	CHECK(same_bytes(file, (const uint8_t *)"keep me\n", 8), "%s: removed or changed", file);

	/* A symbolic link, even to a stale socket, is not a socket. */
	char stale[160];
	path_in(stale, sizeof(stale), "target.sock");
	close(listen_unix(stale));
	path_in(link, sizeof(link), "link.sock");
	CU_ASSERT_FATAL(symlink(stale, link) == 0);
	snprintf(ldaddr, sizeof(ldaddr), "unix:%s", link);
	ds_expect_fail(2, NULL, ARGS("not a socket"), ARGS("receive", "--listen", ldaddr));
	struct stat st;
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "%s: removed", link);
	CHECK(lstat(stale, &st) == 0 && S_ISSOCK(st.st_mode), "%s: removed", stale);

	path_in(sub, sizeof(sub), "adir");
	mkdir(sub, 0700);
	snprintf(saddr, sizeof(saddr), "unix:%s", sub);
	ds_expect_fail(2, NULL, ARGS("not a socket"), ARGS("receive", "--listen", saddr));
	CHECK(lstat(sub, &st) == 0 && S_ISDIR(st.st_mode), "%s: removed", sub);
	rmdir(sub);
	unlink(link);
	unlink(stale);
	unlink(file);
}

/*
 * A SIGINT that comes after receive set its handler but before it waits
 * for a connection still ends it, with 130, at once: the hook raises it in
 * that window.  A receiver that checked for a stop and then blocked in
 * accept waited there for a connection that never came (a loaded machine
 * found it: the SIGINT of listens() landed in the window).
 */
static void test_sigint_before_wait(void)
{
	char sock[160], addr[170];
	path_in(sock, sizeof(sock), "early.sock");
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	struct ds_proc r;
	ds_proc_start(&r, &(struct ds_proc_opts){.env = "DIRTYSCOPE_TEST_SIGINT_BEFORE_WAIT=1"},
		      ARGS("receive", "--listen", addr));
	bool ended = false;
	for (int i = 0; i < 400 && !ended; i++) { /* 20 s; it needs milliseconds */
		siginfo_t si = {0};
		/* WNOWAIT: ds_proc_finish reaps it. */
		ended = waitid(P_PID, r.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			si.si_pid == r.pid;
		if (!ended)
			usleep(50000);
	}
	if (!ended)
		kill(r.pid, SIGKILL);
	ds_proc_finish(&r);
	CHECK(ended, "%s: still waiting 20 s after a SIGINT that came before its wait", r.cmd);
	ds_proc_check_exit(&r, 130, NULL);
	CHECK(access(sock, F_OK) != 0, "%s: left behind", sock);
	ds_proc_free(&r);
}

static const struct ds_case plain_cases[] = {
    {"receive on a non-loopback tcp address needs --allow-remote", test_remote_tcp},
    {"a stale unix socket is replaced", test_stale_socket},
    {"a unix socket somebody listens on is refused", test_live_socket},
    {"a path that is not a socket is refused, never removed", test_not_a_socket},
    {"a SIGINT before the wait for a connection ends receive (130)", test_sigint_before_wait},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"a HELLO naming another file, no --image: refused, the file untouched",
     test_hello_names_a_file},
    {"--disk-dir: names with '/' or '..', a symbolic link: refused", test_disk_dir_names},
    {"--image not DSFS, not the source's size or another image: refused, untouched",
     test_image_not_dsfs},
    {"--disk-dir with the source's file name: migrates", test_disk_dir_migrates},
    {NULL, NULL},
};

static const char *only; /* argv[1]: run only the cases whose name holds it */

static void add_cases(CU_pSuite s, const struct ds_case *c)
{
	for (; c->name; c++)
		if (!only || strstr(c->name, only))
			CU_add_test(s, c->name, c->fn);
}

int main(int argc, char **argv)
{
	only = argc > 1 ? argv[1] : NULL;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int kvm_errno = errno;
	have_kvm = fd >= 0;
	if (have_kvm)
		close(fd);
	snprintf(dir, sizeof(dir), "/tmp/test_trust.XXXXXX");
	if (!mkdtemp(dir))
		return 2;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("trust", NULL, NULL);
	add_cases(s, plain_cases);
	if (have_kvm)
		add_cases(s, kvm_cases);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	free(stream);
	if (src_image[0])
		unlink(src_image);
	rmdir(dir);
	if (failed)
		return 1;
	if (!have_kvm) {
		printf("test_trust: cannot open /dev/kvm (%s): the cases that boot a guest did not "
		       "run\n",
		       strerror(kvm_errno));
		return 77;
	}
	return 0;
}
