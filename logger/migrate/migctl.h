/*
 * The migration handshake: short control messages that follow the stream's
 * END record on the same connection, in both directions.
 *
 *   destination -> source   ACK   RAM checksum verified, every state blob
 *                                 loaded: ready to run the guest
 *                           NACK  refused (the reason follows); also sent
 *                                 when the destination refuses the stream
 *                                 mid-way, so the source can say why
 *   source -> destination   GO    the source has stopped for good: run it
 *   (then the stream's VERDICT record: the source's RAM checksum)
 *   destination -> source   VERIFIED  the RAM received is the source's
 *                           NACK  it is not (the reason follows): the
 *                                 destination stopped its guest
 *
 * The destination runs the guest only after GO; the source resumes its own
 * guest whenever GO was not sent.  So a link lost at any point leaves at
 * most one side running (docs/migration.md discusses the last window).
 */
#ifndef LOGGER_MIGCTL_H
#define LOGGER_MIGCTL_H

#include <stddef.h>
#include <stdint.h>

#define MIGCTL_MAGIC	  0x4c5443474d534444ULL /* "DDSMGCTL" little-endian */
#define MIGCTL_ACK	  0x214b4341u		/* "ACK!" */
#define MIGCTL_NACK	  0x4b43414eu		/* "NACK" */
#define MIGCTL_GO	  0x21214f47u		/* "GO!!" */
#define MIGCTL_VERIFIED	  0x214b4f56u		/* "VOK!" */
#define MIGCTL_MAX_REASON 256

struct migctl_msg {
	uint64_t magic; /* MIGCTL_MAGIC */
	uint32_t type;	/* MIGCTL_ACK, _NACK or _GO */
	uint32_t len;	/* reason bytes that follow (NACK), <= MIGCTL_MAX_REASON */
	uint64_t arg;	/* ACK, GO: END's record checksum; VERIFIED: the RAM checksum */
	uint64_t csum;	/* of the fields above and the reason */
};
_Static_assert(sizeof(struct migctl_msg) == 32, "migctl message layout");

/* Send one message (reason only for NACK, cut to MIGCTL_MAX_REASON).
 * Sockets only (MSG_NOSIGNAL).  Returns 0 or -errno. */
int migctl_send(int fd, uint32_t type, uint64_t arg, const char *reason);

/*
 * Receive one message within the socket's receive timeout.  Returns 0 with
 * *type, *arg and the reason (printable, NUL-terminated; "" if none) filled
 * in, or -errno with why set: -ECONNRESET the peer closed or reset,
 * -EAGAIN the timeout expired, -EPROTO not a valid message.
 */
int migctl_recv(int fd, uint32_t *type, uint64_t *arg, char *reason, size_t cap, char *why,
		size_t whylen);

/* After a failed send: wait up to wait_ms for the peer's NACK and copy its
 * reason into reason.  Returns 1 if one came, else 0. */
int migctl_peer_reason(int fd, int wait_ms, char *reason, size_t cap);

#endif
