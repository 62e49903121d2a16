#include <errno.h>
#include <string.h>

#include "util/log.h"
#include "vmm/serial.h"

#define UART_LSR      5
#define LSR_THRE_TEMT 0x60 /* transmit holding register and shifter empty */

static void line_done(struct serial *s)
{
	s->line[s->len] = 0;
	if (s->echo)
		log_info("guest: %s", s->line);
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

void serial_state_save(const struct serial *s, struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = SERIAL_STATE_VERSION;
	st->len = s->len;
	st->tail_next = s->tail_next;
	memcpy(st->line, s->line, s->len);
	memcpy(st->tail, s->tail, sizeof(st->tail));
}

/* Copy an untrusted string of at most cap - 1 bytes, printable only. */
static void clean_copy(char *dst, const char *src, size_t n, size_t cap)
{
	size_t i;
	for (i = 0; i < n && i + 1 < cap && src[i]; i++)
		dst[i] = src[i] == '\t' || (src[i] >= 0x20 && src[i] <= 0x7e) ? src[i] : '?';
	dst[i] = 0;
}

int serial_state_load(struct serial *s, const void *blob, size_t len, char *why, size_t whylen)
{
	struct serial_state st;

	if (len != sizeof(st)) {
		snprintf(why, whylen, "serial state: %zu bytes, expected %zu", len, sizeof(st));
		return -EINVAL;
	}
	memcpy(&st, blob, sizeof(st));
	if (st.version != SERIAL_STATE_VERSION) {
		snprintf(why, whylen, "serial state: version %u, expected %u", st.version,
			 SERIAL_STATE_VERSION);
		return -EINVAL;
	}
	if (st.len >= SERIAL_LINE_MAX - 1 || st.tail_next >= SERIAL_TAIL) {
		snprintf(why, whylen, "serial state: line length %u or tail index %u out of range",
			 st.len, st.tail_next);
		return -EINVAL;
	}
	clean_copy(s->line, st.line, st.len, SERIAL_LINE_MAX);
	s->len = (unsigned)strlen(s->line);
	for (int i = 0; i < SERIAL_TAIL; i++)
		clean_copy(s->tail[i], st.tail[i], SERIAL_LINE_MAX, SERIAL_LINE_MAX);
	s->tail_next = st.tail_next;
	return 0;
}
