/*
 * A write-only 16550-style UART on COM1: the guest's console.  Lines go to
 * stderr as "guest: ..." when echo is on; the last lines are always kept so a
 * crash report can show what the guest said before it died.
 */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

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

/* Print the last lines the guest wrote (and any unfinished one) to f. */
void serial_dump_tail(const struct serial *s, FILE *f);

#endif
