/*
 * A write-only 16550-style UART on COM1: the guest's console.  Lines go to
 * stderr as "guest: ..." when echo is on; the last lines are always kept so a
 * crash report can show what the guest said before it died.
 */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SERIAL_LINE_MAX 256
#define SERIAL_TAIL	8

struct serial {
	int echo;
	char line[SERIAL_LINE_MAX];
	unsigned len;
	char tail[SERIAL_TAIL][SERIAL_LINE_MAX];
	unsigned tail_next;
};

/* Handle one port access at `port` (offset 0..7 from the base).  Reads
 * return a UART that is always ready to transmit. */
void serial_io(struct serial *s, uint16_t offset, int is_write, uint8_t *data);

/*
 * The console's state for live migration: the unfinished line and the tail
 * a crash report shows, so output continues mid-line on the destination.
 * The UART itself has no state (always ready, nothing emulated).
 */
#define SERIAL_STATE_VERSION 1
struct serial_state {
	uint32_t version; /* SERIAL_STATE_VERSION */
	uint32_t len;	  /* bytes of `line`, < SERIAL_LINE_MAX - 1 */
	uint32_t tail_next;
	uint32_t reserved;
	char line[SERIAL_LINE_MAX];
	char tail[SERIAL_TAIL][SERIAL_LINE_MAX];
};
_Static_assert(sizeof(struct serial_state) == 16 + SERIAL_LINE_MAX * (1 + SERIAL_TAIL),
	       "serial state layout");

/* Fill *st from s. */
void serial_state_save(const struct serial *s, struct serial_state *st);

/* Load st (len bytes, untrusted) into s, keeping s->echo.  Returns 0, or
 * -EINVAL with the reason in why (s unchanged).  Non-printable bytes are
 * replaced as serial_io replaces them. */
int serial_state_load(struct serial *s, const void *st, size_t len, char *why, size_t whylen);

/* Print the last lines the guest wrote (and any unfinished one) to f. */
void serial_dump_tail(const struct serial *s, FILE *f);

#endif
