/*
 * Migration endpoints: "unix:PATH" or "tcp:HOST:PORT", parsed, connected
 * and listened on.  Every function reports failure as -errno with a
 * one-line reason naming the address.
 */
#ifndef LOGGER_MIGADDR_H
#define LOGGER_MIGADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define MIGADDR_MAX 256 /* characters of an address, "unix:" or "tcp:" included */

struct migaddr {
	char text[MIGADDR_MAX]; /* as given, for messages */
	int family;		/* AF_UNIX or AF_INET/AF_INET6 (tcp) */
	char host[MIGADDR_MAX]; /* tcp */
	char port[8];		/* tcp */
	char path[108];		/* unix: sun_path */
};

/* Parse s.  Returns 0 or -EINVAL (why: what is wrong with it). */
int migaddr_parse(const char *s, struct migaddr *a, char *why, size_t whylen);

/*
 * Connect to a, giving up after timeout_ms.  The socket is blocking and
 * close-on-exec, with send and receive timeouts of io_timeout_ms (0: none)
 * so that a peer that stops reading or answering cannot hang the caller
 * forever.  Returns the socket or -errno.
 */
int migaddr_connect(const struct migaddr *a, int timeout_ms, int io_timeout_ms, char *why,
		    size_t whylen);

/* Listen on a.  A unix path that exists is taken over only if it is a
 * stale socket (nobody listens: connect() is refused), which is removed;
 * a socket somebody listens on is refused with -EADDRINUSE, any other file
 * with -EEXIST and never removed.  The new socket's path is the caller's to
 * unlink.  Returns the listening socket or -errno. */
int migaddr_listen(const struct migaddr *a, char *why, size_t whylen);

/* Whether a stays on this host: a unix path, or tcp on localhost,
 * 127.0.0.0/8 or ::1 (by address; another host name is not loopback). */
bool migaddr_is_loopback(const struct migaddr *a);

/* Accept one connection on a listening socket, with I/O timeouts as for
 * migaddr_connect.  Returns the socket or -errno (-EINTR: a signal came). */
int migaddr_accept(int lfd, int io_timeout_ms, char *why, size_t whylen);

/* Set SO_SNDTIMEO and SO_RCVTIMEO on fd (0: none).  Returns 0 or -errno. */
int migaddr_set_timeouts(int fd, int timeout_ms);

#endif
