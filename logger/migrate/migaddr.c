/*
 * Migration endpoints (logger/migrate/migaddr.h).  getaddrinfo resolves tcp hosts,
 * so "tcp:localhost:4444", "tcp:[::1]:4444" and "tcp:10.0.0.2:4444" work
 * as they do for QEMU's -incoming.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "logger/migrate/migaddr.h"

#define UNIX_SNDBUF (4 << 20) /* bytes a unix socket's sender may queue: tune() */

int migaddr_parse(const char *s, struct migaddr *a, char *why, size_t whylen)
{
	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(a->text)) {
		snprintf(why, whylen, "address too long (at most %d characters)", MIGADDR_MAX - 1);
		return -EINVAL;
	}
	strcpy(a->text, s);
	if (!strncmp(s, "unix:", 5)) {
		const char *p = s + 5;
		if (!*p || strlen(p) >= sizeof(a->path)) {
			snprintf(why, whylen, "%s: a unix socket path of 1..%zu bytes is needed", s,
				 sizeof(a->path) - 1);
			return -EINVAL;
		}
		a->family = AF_UNIX;
		strcpy(a->path, p);
		return 0;
	}
	if (!strncmp(s, "tcp:", 4)) {
		const char *h = s + 4, *colon;
		size_t hl;
		if (*h == '[') { /* [v6-address]:port */
			const char *end = strchr(h, ']');
			if (!end || end[1] != ':')
				goto bad_tcp;
			h++;
			hl = (size_t)(end - h);
			colon = end + 1;
		} else {
			colon = strrchr(h, ':');
			if (!colon)
				goto bad_tcp;
			hl = (size_t)(colon - h);
		}
		char *end;
		errno = 0;
		unsigned long port = strtoul(colon + 1, &end, 10);
		if (!hl || hl >= sizeof(a->host) || colon[1] < '0' || colon[1] > '9' || *end ||
		    errno || port < 1 || port > 65535)
			goto bad_tcp;
		memcpy(a->host, h, hl);
		snprintf(a->port, sizeof(a->port), "%u", (unsigned)port);
		a->family = AF_INET;
		return 0;
	bad_tcp:
		snprintf(why, whylen, "%s: expected tcp:HOST:PORT with a port of 1..65535", s);
		return -EINVAL;
	}
	snprintf(why, whylen, "%s: expected unix:PATH or tcp:HOST:PORT", s);
	return -EINVAL;
}

int migaddr_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

/* connect() with a deadline: non-blocking connect, poll, then blocking. */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int ret = 0;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			return -errno;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int n;
		do
			n = poll(&p, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			return -errno;
		ret = -err;
	}
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -errno;
	return ret;
}

/*
 * Both ends want small records (handshake messages) sent at once.  On a
 * unix socket the sender may queue only its SO_SNDBUF, 208 KiB by default:
 * the final round's 1 MiB records then went through in lockstep, the
 * source waiting while the destination hashed and stored the previous
 * batch, and each paying a wake-up.  A few MiB (the kernel caps it at
 * net.core.wmem_max) let the two overlap; TCP sizes its own buffers, and
 * setting SO_SNDBUF there would turn that off.
 */
static void tune(int fd, int family)
{
	if (family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		int buf = UNIX_SNDBUF;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	}
}

int migaddr_connect(const struct migaddr *a, int timeout_ms, int io_timeout_ms, char *why,
		    size_t whylen)
{
	int ret;

	if (a->family == AF_UNIX) {
		struct sockaddr_un su = {.sun_family = AF_UNIX};
		memcpy(su.sun_path, a->path, strlen(a->path) + 1);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ret = -errno;
			goto fail;
		}
		ret = connect_timed(fd, (struct sockaddr *)&su, sizeof(su), timeout_ms);
		if (!ret)
			ret = migaddr_set_timeouts(fd, io_timeout_ms);
		if (ret) {
			close(fd);
			goto fail;
		}
		tune(fd, AF_UNIX);
		return fd;
	}

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int g = getaddrinfo(a->host, a->port, &hints, &res);
	if (g) {
		snprintf(why, whylen, "%s: cannot resolve %s: %s", a->text, a->host,
			 gai_strerror(g));
		return -EHOSTUNREACH;
	}
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		ret = connect_timed(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
		if (!ret)
			ret = migaddr_set_timeouts(fd, io_timeout_ms);
		if (!ret) {
			tune(fd, ai->ai_family);
			freeaddrinfo(res);
			return fd;
		}
		close(fd);
	}
	freeaddrinfo(res);
fail:
	snprintf(why, whylen, "cannot connect to %s: %s", a->text, strerror(-ret));
	return ret;
}

bool migaddr_is_loopback(const struct migaddr *a)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (a->family == AF_UNIX)
		return true;
	if (!strcmp(a->host, "localhost"))
		return true;
	if (inet_pton(AF_INET, a->host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a->host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6);
	/* Any other name may resolve anywhere (and differently later). */
	return false;
}

/*
 * A unix path left by a receiver that died (SIGKILL, a crash) is a socket
 * nobody listens on: connect() gets ECONNREFUSED.  Remove that one, as QEMU
 * does; refuse a live listener (-EADDRINUSE) and anything not a socket
 * (-EEXIST), which is never removed.  Returns 0 when the path is free.
 */
static int unix_claim(const struct sockaddr_un *su, const char *text, char *why, size_t whylen)
{
	struct stat st;

	if (lstat(su->sun_path, &st)) {
		if (errno == ENOENT)
			return 0;
		int ret = -errno;
		snprintf(why, whylen, "cannot listen on %s: %s", text, strerror(-ret));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen,
			 "cannot listen on %s: the path is in use by a file that is not a "
			 "socket (not removed)",
			 text);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int ret = -errno;
		snprintf(why, whylen, "cannot listen on %s: socket: %s", text, strerror(-ret));
		return ret;
	}
	int ret = connect(fd, (const struct sockaddr *)su, sizeof(*su)) ? -errno : 0;
	close(fd);
	if (ret == -ECONNREFUSED) {
		/* Stale: its listener is gone. */
		if (unlink(su->sun_path) && errno != ENOENT) {
			ret = -errno;
			snprintf(why, whylen, "cannot listen on %s: removing the stale socket: %s",
				 text, strerror(-ret));
			return ret;
		}
		return 0;
	}
	/* Connected, or a full backlog (EAGAIN): somebody listens there. */
	snprintf(why, whylen, "cannot listen on %s: address in use (another process listens on it)",
		 text);
	return -EADDRINUSE;
}

int migaddr_listen(const struct migaddr *a, char *why, size_t whylen)
{
	int fd = -1, ret;

	if (a->family == AF_UNIX) {
		struct sockaddr_un su = {.sun_family = AF_UNIX};
		memcpy(su.sun_path, a->path, strlen(a->path) + 1);
		ret = unix_claim(&su, a->text, why, whylen);
		if (ret)
			return ret;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&su, sizeof(su)) < 0 || listen(fd, 1) < 0)
			goto fail_errno;
		return fd;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
	int g = getaddrinfo(a->host, a->port, &hints, &res);
	if (g) {
		snprintf(why, whylen, "%s: cannot resolve %s: %s", a->text, a->host,
			 gai_strerror(g));
		return -EHOSTUNREACH;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0) {
		freeaddrinfo(res);
		goto fail_errno;
	}
	freeaddrinfo(res);
	return fd;
fail_errno:
	ret = -errno;
	if (fd >= 0)
		close(fd);
	snprintf(why, whylen, "cannot listen on %s: %s", a->text, strerror(-ret));
	return ret;
}

int migaddr_accept(int lfd, int io_timeout_ms, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	/* EINTR is returned, not retried: SIGINT must stop a receiver that
	 * nobody connects to. */
	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0) {
		int ret = -errno;
		snprintf(why, whylen, "accepting a connection: %s", strerror(-ret));
		return ret;
	}
	int ret = migaddr_set_timeouts(fd, io_timeout_ms);
	if (ret) {
		close(fd);
		snprintf(why, whylen, "socket timeouts: %s", strerror(-ret));
		return ret;
	}
	tune(fd, ss.ss_family);
	return fd;
}
