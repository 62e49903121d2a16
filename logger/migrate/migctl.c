/* The migration handshake (logger/migrate/migctl.h). */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "logger/migrate/migctl.h"
#include "logger/migrate/migstream.h"
#include "util/io.h"

static uint64_t msg_csum(const struct migctl_msg *m, const char *reason)
{
	uint64_t h = migstream_bytes_hash(0, m, offsetof(struct migctl_msg, csum));
	return migstream_bytes_hash(h, reason, m->len);
}

int migctl_send(int fd, uint32_t type, uint64_t arg, const char *reason)
{
	char buf[sizeof(struct migctl_msg) + MIGCTL_MAX_REASON];
	struct migctl_msg m = {.magic = MIGCTL_MAGIC, .type = type, .arg = arg};

	if (reason) {
		size_t n = strlen(reason);
		m.len = (uint32_t)(n > MIGCTL_MAX_REASON ? MIGCTL_MAX_REASON : n);
	}
	m.csum = msg_csum(&m, reason);
	memcpy(buf, &m, sizeof(m));
	if (m.len)
		memcpy(buf + sizeof(m), reason, m.len);
	return io_send_full(fd, buf, sizeof(m) + m.len);
}

int migctl_recv(int fd, uint32_t *type, uint64_t *arg, char *reason, size_t cap, char *why,
		size_t whylen)
{
	struct migctl_msg m;
	char text[MIGCTL_MAX_REASON];

	ssize_t n = io_read_full(fd, &m, sizeof(m));
	if (n < 0) {
		snprintf(why, whylen, "waiting for the peer's answer: %s",
			 n == -EAGAIN || n == -EWOULDBLOCK ? "timed out" : strerror((int)-n));
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	}
	if ((size_t)n < sizeof(m)) {
		snprintf(why, whylen, "the peer closed the connection without answering");
		return -ECONNRESET;
	}
	if (m.magic != MIGCTL_MAGIC || m.len > MIGCTL_MAX_REASON ||
	    (m.type != MIGCTL_ACK && m.type != MIGCTL_NACK && m.type != MIGCTL_GO &&
	     m.type != MIGCTL_VERIFIED)) {
		snprintf(why, whylen, "the peer's answer is not a handshake message");
		return -EPROTO;
	}
	n = io_read_full(fd, text, m.len);
	if (n < 0 || (size_t)n < m.len) {
		snprintf(why, whylen, "the peer's answer was cut short");
		return -ECONNRESET;
	}
	if (m.csum != msg_csum(&m, text)) {
		snprintf(why, whylen, "the peer's answer is corrupt (checksum mismatch)");
		return -EPROTO;
	}
	size_t i;
	for (i = 0; i < m.len && i + 1 < cap; i++)
		reason[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	if (cap)
		reason[i] = 0;
	*type = m.type;
	*arg = m.arg;
	return 0;
}

int migctl_peer_reason(int fd, int wait_ms, char *reason, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint32_t type;
	uint64_t arg;
	char why[128];

	if (poll(&p, 1, wait_ms) != 1)
		return 0;
	if (migctl_recv(fd, &type, &arg, reason, cap, why, sizeof(why)) || type != MIGCTL_NACK)
		return 0;
	return 1;
}
