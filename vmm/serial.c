#include <string.h>

#include "vmm/serial.h"

#define UART_LSR      5
#define LSR_THRE_TEMT 0x60 /* transmit holding register and shifter empty */

static void line_done(struct serial *s)
{
	s->line[s->len] = 0;
	if (s->echo)
		fprintf(stderr, "guest: %s\n", s->line);
	memcpy(s->tail[s->tail_next], s->line, s->len + 1);
	s->tail_next = (s->tail_next + 1) % SERIAL_TAIL;
	s->len = 0;
}

void serial_io(struct serial *s, uint16_t offset, int is_write, uint8_t *data)
{
	if (!is_write) {
		*data = offset == UART_LSR ? LSR_THRE_TEMT : 0;
		return;
	}
	if (offset != 0)
		return; /* divisor, line control, ...: nothing to emulate */
	uint8_t c = *data;
	if (c == '\n') {
		line_done(s);
		return;
	}
	/* The guest is untrusted: keep the host terminal clean. */
	if (c != '\t' && (c < 0x20 || c > 0x7e))
		c = '?';
	s->line[s->len++] = (char)c;
	if (s->len == SERIAL_LINE_MAX - 1)
		line_done(s);
}

void serial_dump_tail(const struct serial *s, FILE *f)
{
	for (unsigned i = 0; i < SERIAL_TAIL; i++) {
		const char *l = s->tail[(s->tail_next + i) % SERIAL_TAIL];
		if (l[0])
			fprintf(f, "  guest console: %s\n", l);
	}
	if (s->len)
		fprintf(f, "  guest console: %.*s\n", (int)s->len, s->line);
}
