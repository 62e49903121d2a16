/*
 * A live migration on one machine, for tests and benchmarks: the source
 * and each receiver run in their own forked process (each has its own VM,
 * signal handlers and run loop), connected through a unix socket in a
 * temporary directory, optionally through a proxy that corrupts one byte.
 * Every process reports through a pipe.  Both ends hash guest RAM with the
 * code below (not the stream's checksum) at the switch-over and before the
 * destination resumes, so the hashes are an independent witness.
 */
#ifndef TESTS_DS_MIGRATE_H
#define TESTS_DS_MIGRATE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi/fnv.h"
#include "util/io.h"
#include "logger/migrate/migrate.h"
#include "logger/session.h"

#define DS_MIG_MAX_RECEIVERS 4

/* What one process saw. */
struct ds_mig_side {
	int reported; /* the process wrote this (it did not crash) */
	int ret;      /* session_run's return (receivers: before any run, too) */
	int resumed;  /* receiver: GO came, the guest ran here */
	uint64_t hash;
	int hashed;
	struct run_summary sum;	  /* pointers cleared */
	struct migrate_stats mig; /* source */
	struct migin_stats in;	  /* receiver */
};

struct ds_mig_plan {
	struct session_config src; /* the source's session; migrate is set here */
	struct migrate_config mig; /* `to` is set here */
	const char *recv_mode;	   /* the receivers' log mode (default bitmap) */
	bool recv_verify;
	int receivers; /* connections to accept, one receiver each (default 1) */
	/* Receiver i: called with its guest loaded, before it runs and
	 * before the hash (to corrupt it, for the teeth). */
	void (*recv_hook)(int i, const struct guest_mem *m);
	/* Receiver i: refuse to ACK (the link drops before the handshake). */
	int drop_before_ack[DS_MIG_MAX_RECEIVERS];
	/* > 0: stream byte (counted from 1) the proxy flips, receiver 0 only. */
	uint64_t flip_byte;
	int timeout_s; /* the whole migration, default 120 */
};

/* Word-wise FNV-1a of every RAM page in index order: plain FNV-1a, not the
 * product's abi_fnv_step, so the test's hash shares no code (and no bug)
 * with END's checksum that it is compared against.  Pages the host never
 * populated are zero (mem_populated) and are hashed as zero words without
 * being read, so the hash does not fault in all of RAM (which would slow
 * everything after it, END's checksum included). */
static inline uint64_t ds_ram_hash(const struct guest_mem *m)
{
	static uint64_t bits[4096 / 64];
	uint64_t h = ABI_FNV_BASIS;
	for (uint64_t i = 0; i < m->nr_pages; i += 4096) {
		uint64_t n = m->nr_pages - i < 4096 ? m->nr_pages - i : 4096;
		bool known = mem_populated(m, i, n, bits) == 0;
		for (uint64_t k = 0; k < n; k++) {
			bool zero = known && !(bits[k / 64] >> (k % 64) & 1);
			const uint64_t *w = mem_gpa_to_hva(m, mem_index_to_gpa(m, i + k), 4096);
			for (int j = 0; j < 512; j++) {
				h ^= zero ? 0 : w[j];
				h *= ABI_FNV_PRIME;
			}
		}
	}
	return h;
}

static struct ds_mig_side ds_mig_me; /* the child's own report */
static const struct ds_mig_plan *ds_mig_plan_now;
static int ds_mig_receiver;

static void ds_mig_on_switchover(void *ctx, const struct guest_mem *m)
{
	(void)ctx;
	ds_mig_me.hash = ds_ram_hash(m);
	ds_mig_me.hashed = 1;
}

static void ds_mig_on_incoming(void *ctx, const struct guest_mem *m)
{
	(void)ctx;
	if (ds_mig_plan_now->recv_hook)
		ds_mig_plan_now->recv_hook(ds_mig_receiver, m);
	ds_mig_me.hash = ds_ram_hash(m);
	ds_mig_me.hashed = 1;
}

static inline void ds_mig_report(int fd)
{
	ds_mig_me.reported = 1;
	ds_mig_me.sum.mode = ds_mig_me.sum.workload = ds_mig_me.sum.policy = NULL;
	ds_mig_me.sum.nr_ext = 0; /* pointers mean nothing in the parent */
	ssize_t n = write(fd, &ds_mig_me, sizeof(ds_mig_me));
	(void)n;
	_exit(0);
}

/* Read a child's report (all of it, or reported = 0) and reap it. */
static inline void ds_mig_collect(pid_t pid, int fd, struct ds_mig_side *out)
{
	memset(out, 0, sizeof(*out));
	if (io_read_full(fd, out, sizeof(*out)) != (ssize_t)sizeof(*out))
		memset(out, 0, sizeof(*out));
	close(fd);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* What `from` still holds, to `to`, until from's EOF: the last words of a
 * side that hung up (the destination's NACK) must still reach the other. */
static inline void ds_mig_proxy_drain(int from, int to)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(from, buf, sizeof(buf))) > 0)
		if (send(to, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	_exit(0);
}

/* Forward a <-> b until both close, flipping stream byte `flip` of a -> b. */
static inline void ds_mig_proxy(int a, int b, uint64_t flip)
{
	char buf[65536];
	uint64_t seen = 0;
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, 60000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				_exit(0); /* closing both ends tells the other side */
			if (i == 0 && flip > seen && flip <= seen + (uint64_t)n)
				buf[flip - seen - 1] ^= 0x10;
			if (i == 0)
				seen += (uint64_t)n;
			for (ssize_t off = 0; off < n;) {
				ssize_t w =
				    send(p[1 - i].fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					ds_mig_proxy_drain(p[1 - i].fd, p[i].fd);
				off += w;
			}
		}
	}
	_exit(0);
}

/* Receiver i on connection fd: load, run, report. */
static inline void ds_mig_receive(const struct ds_mig_plan *p, int i, int fd, int out)
{
	struct migin in;
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = dlog_find(p->recv_mode ? p->recv_mode : "bitmap"),
	    .dlog = dlog_config_default(),
	    .verify = p->recv_verify,
	    .on_incoming = ds_mig_on_incoming,
	};
	ds_mig_plan_now = p;
	ds_mig_receiver = i;
	ds_mig_me.ret = migin_open(&in, fd);
	if (!ds_mig_me.ret) {
		session_config_incoming(&cfg, &in, NULL);
		in.test_drop_before_ack = p->drop_before_ack[i];
		ds_mig_me.ret = session_run(&cfg, &ds_mig_me.sum);
		ds_mig_me.resumed = in.resumed;
		ds_mig_me.in = in.stats;
	}
	ds_mig_report(out);
}

/*
 * Run the plan: the source, and up to p->receivers receivers one after the
 * other (the source retries on failures).  Returns 0, or -1 when the set-up
 * failed (message printed).
 */
static inline int ds_migrate_run(struct ds_mig_plan *p, struct ds_mig_side *src,
				 struct ds_mig_side *dst)
{
	char dir[] = "/tmp/dirtyscope-mig-XXXXXX", why[320], addr[128];
	int nrecv = p->receivers ? p->receivers : 1;
	int fds[2];

	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst) * (size_t)nrecv);
	if (!mkdtemp(dir))
		return -1;
	snprintf(addr, sizeof(addr), "unix:%s/mig.sock", dir);
	if (migaddr_parse(addr, &p->mig.to, why, sizeof(why)))
		return -1;
	int lfd = migaddr_listen(&p->mig.to, why, sizeof(why));
	if (lfd < 0) {
		fprintf(stderr, "%s\n", why);
		return -1;
	}
	p->src.migrate = &p->mig;
	p->src.migrate_stats = &ds_mig_me.mig;
	p->mig.on_switchover = ds_mig_on_switchover;
	fflush(NULL);
	if (pipe(fds))
		return -1;
	/* The report outgrows a default pipe; a child blocked on it could
	 * not be seen to exit. */
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	pid_t spid = fork();
	if (spid == 0) {
		close(lfd);
		close(fds[0]);
		ds_mig_me.ret = session_run(&p->src, &ds_mig_me.sum);
		ds_mig_report(fds[1]);
	}
	close(fds[1]);
	int sfd = fds[0];

	int deadline = (p->timeout_s ? p->timeout_s : 120) * 10;
	for (int i = 0; i < nrecv; i++) {
		/* Accept while the source lives. */
		int cfd = -1;
		while (deadline-- > 0) {
			struct pollfd pl = {.fd = lfd, .events = POLLIN};
			if (poll(&pl, 1, 100) == 1) {
				cfd = migaddr_accept(lfd, MIGRATE_IO_MS, why, sizeof(why));
				break;
			}
			if (waitpid(spid, NULL, WNOHANG) == spid) {
				spid = -1;
				break;
			}
		}
		if (cfd < 0)
			break;
		int rfd = cfd;
		pid_t ppid = -1;
		if (i == 0 && p->flip_byte) {
			int sp[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
				return -1;
			ppid = fork();
			if (ppid == 0) {
				close(sp[1]);
				ds_mig_proxy(cfd, sp[0], p->flip_byte);
			}
			close(sp[0]);
			close(cfd);
			rfd = sp[1];
		}
		if (pipe(fds))
			return -1;
		fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
		pid_t rpid = fork();
		if (rpid == 0) {
			close(lfd);
			close(sfd);
			close(fds[0]);
			ds_mig_receive(p, i, rfd, fds[1]);
		}
		close(fds[1]);
		close(rfd);
		ds_mig_collect(rpid, fds[0], &dst[i]);
		if (ppid > 0)
			waitpid(ppid, NULL, 0);
	}
	close(lfd);
	char sock[160];
	snprintf(sock, sizeof(sock), "%s/mig.sock", dir);
	unlink(sock);
	rmdir(dir);
	if (spid > 0) {
		ds_mig_collect(spid, sfd, src);
	} else {
		/* Reaped while polling: its report is in the pipe. */
		ds_mig_collect(0, sfd, src);
	}
	return 0;
}

#endif
