/*
 * The live-migration stream: what a pre-copy migration source writes to a
 * socket (or pipe, or file) and the destination reads back into its guest
 * RAM.  docs/migration-stream.md gives the format byte for byte.
 *
 *   HELLO                       version, RAM size, the caller's config blob
 *   ROUND_BEGIN r               r = 0, 1, 2 ...
 *     PAGES ...                 batches of pages: data, or a zero marker
 *   ROUND_END r                 with the round's page counts
 *   ... more rounds ...
 *   STATE ...                   opaque vCPU and device state blobs
 *   END                         record and page totals
 *   VERDICT                     a checksum of the whole guest RAM, sent
 *                               late: after the guest runs on the other side
 *
 * Every record carries a sequence number (0, 1, 2 ...) and a checksum of
 * all its bytes, so the reader notices loss, duplication, reordering,
 * corruption and truncation, and refuses the stream with a one-line reason.
 * The reader treats every byte of the stream as hostile: lengths are bounded
 * before anything is read or allocated, and a batch of pages is validated
 * whole (every GPA inside guest RAM) before any byte of it is written.
 *
 * This module knows nothing about KVM: the caller harvests dirty pages,
 * pauses the guest and serialises vCPU and device state.
 */
#ifndef LOGGER_MIGSTREAM_H
#define LOGGER_MIGSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmm/mem.h"

#define MIGSTREAM_VERSION    2
#define MIGSTREAM_MAGIC	     0x54415247494d5344ULL /* "DSMIGRAT" little-endian */
#define MIGSTREAM_PAGE	     4096
#define MIGSTREAM_MAX_CONFIG 4096	/* HELLO's config blob, bytes */
#define MIGSTREAM_MAX_STATE  (64 << 10) /* one STATE blob, bytes */
#define MIGSTREAM_MAX_ABORT  256	/* ABORT's reason, bytes */
#define MIGSTREAM_BATCH_DESC 1024	/* descriptors per PAGES record */
#define MIGSTREAM_BATCH_DATA 256	/* data pages per PAGES record: 1 MiB */
#define MIGSTREAM_MAX_RUN    (1u << 18) /* pages one zero descriptor covers: 1 GiB */
/* The largest metadata part any record may declare (a STATE record). */
#define MIGSTREAM_MAX_META (MIGSTREAM_MAX_STATE + 8)

/* ---- Wire format (little-endian; docs/migration-stream.md) ---- */

/* Record type tags: four ASCII characters, readable in a hex dump. */
#define MIGSTREAM_HELLO	      0x4f4c4548u /* "HELO" */
#define MIGSTREAM_ROUND_BEGIN 0x47454252u /* "RBEG" */
#define MIGSTREAM_PAGES	      0x45474150u /* "PAGE" */
#define MIGSTREAM_ROUND_END   0x444e4552u /* "REND" */
#define MIGSTREAM_STATE	      0x54415453u /* "STAT" */
#define MIGSTREAM_END	      0x21444e45u /* "END!" */
#define MIGSTREAM_ABORT	      0x54524241u /* "ABRT" */
#define MIGSTREAM_VERDICT     0x54445256u /* "VRDT" */

/* Page descriptor kinds in a PAGES record. */
#define MIGSTREAM_PAGE_DATA 1u /* one page; its 4096 bytes follow in the data part */
#define MIGSTREAM_PAGE_ZERO 2u /* `count` all-zero pages from gpa on; no data */

/*
 * Every record: this header, then meta_len bytes of metadata, then nr_data
 * pages of 4096 bytes.  hdr_csum lets the reader trust meta_len and nr_data
 * before it reads what they announce; csum covers the whole record.
 */
struct migstream_rec {
	uint32_t type;	   /* MIGSTREAM_HELLO ... */
	uint32_t meta_len; /* bytes of metadata after the header */
	uint32_t nr_data;  /* 4 KiB pages after the metadata (PAGES only) */
	uint32_t hdr_csum; /* of type, meta_len, nr_data, seq */
	uint64_t seq;	   /* 0 for HELLO, then +1 per record */
	uint64_t csum;	   /* of the header fields, the metadata and every page */
};

/* HELLO's metadata; config_len bytes of config follow.  magic and version
 * keep their place in every version, so any reader can name the version. */
struct migstream_hello {
	uint64_t magic;	    /* MIGSTREAM_MAGIC */
	uint32_t version;   /* MIGSTREAM_VERSION */
	uint32_t page_size; /* MIGSTREAM_PAGE */
	uint64_t ram_size;  /* bytes; the receiver's guest RAM must be this size */
	uint32_t config_len;
	uint32_t reserved; /* 0 */
};

/* Pages of a PAGES record: one data page, or a run of zero pages (a run
 * keeps an empty 64 GiB guest's first round to a few megabytes). */
struct migstream_desc {
	uint64_t gpa;	/* page aligned; [gpa, gpa + count pages) inside one RAM slot */
	uint32_t kind;	/* MIGSTREAM_PAGE_DATA or MIGSTREAM_PAGE_ZERO */
	uint32_t count; /* DATA: 1; ZERO: 1 .. MIGSTREAM_MAX_RUN */
};

struct migstream_round_end {
	uint64_t round;
	uint64_t pages;	     /* pages (data + zero) the round's PAGES records held */
	uint64_t zero_pages; /* of which zero markers */
};

/* STATE's metadata; len bytes of blob follow. */
struct migstream_state {
	uint32_t kind; /* the caller's: vCPU, device, ... */
	uint32_t len;
};

struct migstream_end {
	uint64_t records; /* records in the stream, END included */
	uint64_t pages;	  /* pages (data + zero) over all rounds */
	uint64_t zero_pages;
};

/* The last record, after END: the source's RAM checksum.  Late, because
 * computing it reads all the RAM the guest populated, and that must not
 * keep the guest stopped: the source computes it once the destination was
 * told to run (its own guest never runs again), the destination compares
 * it with what it received. */
struct migstream_verdict {
	uint64_t ram_checksum; /* migstream_ram_checksum() of the source's RAM */
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the stream is little-endian");
_Static_assert(sizeof(struct migstream_rec) == 32, "migstream record header layout");
_Static_assert(__builtin_offsetof(struct migstream_rec, seq) == 16, "migstream record layout");
_Static_assert(__builtin_offsetof(struct migstream_rec, csum) == 24, "migstream record layout");
_Static_assert(sizeof(struct migstream_hello) == 32, "migstream HELLO layout");
_Static_assert(__builtin_offsetof(struct migstream_hello, ram_size) == 16, "HELLO layout");
_Static_assert(sizeof(struct migstream_desc) == 16, "migstream page descriptor layout");
_Static_assert(sizeof(struct migstream_round_end) == 24, "migstream ROUND_END layout");
_Static_assert(sizeof(struct migstream_state) == 8, "migstream STATE layout");
_Static_assert(sizeof(struct migstream_end) == 24, "migstream END layout");
_Static_assert(sizeof(struct migstream_verdict) == 8, "migstream VERDICT layout");

/* ---- Checksums ---- */

/*
 * Hash of one 4096-byte page (8-byte aligned): four interleaved lanes of
 * the abi_fs_csum word step, folded with abi_fs_csum.  Lanes, because one
 * multiply chain runs at a third of the speed memory can feed it.
 */
uint64_t migstream_page_hash(const void *page);

/*
 * Checksum of all guest RAM: the page hashes of every page in RAM-index
 * order (not GPA order: the hole is not RAM), chained after the page count.
 * Both ends compute it: the source for VERDICT with its guest stopped for
 * good, the receiver from the page hashes it kept (or from its RAM at END).
 * Reads every populated page once; about 5 GiB/s per core (-O2).
 */
uint64_t migstream_ram_checksum(const struct guest_mem *m);

/* Hash len bytes (any alignment) continuing from h; h = 0 to start.  For
 * the handshake messages and other small records that ride the stream. */
uint64_t migstream_bytes_hash(uint64_t h, const void *p, size_t len);

/* ---- Writer ---- */

struct migstream_stats {
	uint64_t bytes;	     /* stream bytes, headers included */
	uint64_t records;    /* records written (or read) */
	uint64_t pages;	     /* pages sent, data + zero */
	uint64_t zero_pages; /* of which zero markers */
	uint64_t rounds;     /* ROUND_ENDs */
};

struct migstream_writer {
	int fd;
	struct migstream_stats stats;
	uint64_t end_csum;     /* END's record checksum, once written */
	uint64_t ram_checksum; /* the one VERDICT carried, once written */
	/* Private. */
	int sock;	      /* fd is a socket: send with MSG_NOSIGNAL */
	int err;	      /* first failure (-errno): the stream is dead after it */
	int phase;	      /* what may come next (enum migstream_phase) */
	uint64_t ram_size;    /* from HELLO: every mem passed later must match */
	uint64_t last_csum;   /* the last record's checksum */
	uint64_t round;	      /* the open round, or the next one */
	uint64_t round_pages; /* in the open round */
	uint64_t round_zero;
	uint32_t nr_desc, nr_data; /* the batch being filled */
	uint64_t batch_pages, batch_zero;
	struct migstream_desc *desc;
	uint8_t *data;	    /* MIGSTREAM_BATCH_DATA page copies */
	uint64_t *data_sum; /* their page hashes */
	/* Guest stopped (migstream_writer_in_place): the batch's pages are
	 * sent from guest RAM, one iovec each, not from `data`. */
	int in_place;
	struct iovec *iov; /* 3 + MIGSTREAM_BATCH_DATA */
	/* send_range's snapshot of which pages the host populated, for RAM
	 * indexes pop_first .. pop_first+pop_count-1 (pop_count 0: none). */
	uint64_t pop_first, pop_count;
	uint64_t *pop_bits;
	int pop_known; /* 0: pagemap unreadable, every page is read */
};

/*
 * Start a stream on fd, which must be blocking; it stays the caller's.  On a
 * socket every write uses MSG_NOSIGNAL, so a receiver that goes away is
 * -EPIPE (or -ECONNRESET), never SIGPIPE; on a pipe the caller must ignore
 * SIGPIPE itself (this library does not change signal dispositions).
 * Returns 0 or -ENOMEM.
 */
int migstream_writer_init(struct migstream_writer *w, int fd);

/* Free the writer's buffers; the fd stays open. */
void migstream_writer_destroy(struct migstream_writer *w);

/*
 * The guest can no longer write its RAM (its vCPU is stopped for the
 * switch-over, for good or until the attempt ends): from now on every data
 * page is hashed and sent where it lies in guest RAM, without the private
 * copy that a running guest needs (see migstream_send_pages).  That copy
 * read every page of the final round from memory once more and wrote it
 * once more, with the guest stopped.  Between rounds only (no open
 * round): returns 0, or -EINVAL.
 */
int migstream_writer_in_place(struct migstream_writer *w);

/*
 * Every write below returns 0 or -errno.  -EINVAL is the caller's mistake
 * (out of order, a bad index or size) and writes nothing; any I/O error
 * (-EPIPE, -ECONNRESET, -EAGAIN on a send timeout, ...) may leave a partial
 * record on the wire, so it sticks: every later call returns it.
 */

/* The first record: version, m's RAM size, and config_len (<=
 * MIGSTREAM_MAX_CONFIG) opaque bytes the receiver gets back. */
int migstream_write_hello(struct migstream_writer *w, const struct guest_mem *m, const void *config,
			  uint32_t config_len);

/* Open round `round`: 0 for the first, then one more than the last. */
int migstream_round_begin(struct migstream_writer *w, uint64_t round);

/*
 * Send RAM pages ram_indexes[0..n) of m in the open round, in batches of at
 * most MIGSTREAM_BATCH_DESC pages / MIGSTREAM_BATCH_DATA data pages.  An
 * all-zero page goes as a zero marker.  Every index is checked (< nr_pages)
 * before anything is sent.  The guest may keep running: each data page is
 * copied once and the copy is both hashed and sent, so a page the guest
 * changes meanwhile is never torn between checksum and data (the dirty log
 * sends it again next round); after migstream_writer_in_place, pages are
 * hashed and sent from RAM without that copy.  Consecutive zero pages share one marker.
 * Pages may stay in the writer's batch until round_end.
 */
int migstream_send_pages(struct migstream_writer *w, const struct guest_mem *m,
			 const uint64_t *ram_indexes, uint64_t n);

/* Same for the RAM indexes first .. first+count-1 (a full round without an
 * index array). */
int migstream_send_range(struct migstream_writer *w, const struct guest_mem *m, uint64_t first,
			 uint64_t count);

/* Flush the batch and close the open round. */
int migstream_round_end(struct migstream_writer *w);

/* A state blob of len <= MIGSTREAM_MAX_STATE bytes, after the last round. */
int migstream_write_state(struct migstream_writer *w, uint32_t kind, const void *blob,
			  uint32_t len);

/* END: the record and page totals; w->end_csum then names the stream (the
 * handshake carries it).  No round may be open.  Reads no RAM. */
int migstream_write_end(struct migstream_writer *w);

/* The last record, after END: checksums m's RAM, which must not change
 * after the final round any more (a migration source: its guest stopped
 * for good, after GO), and sends it.  Sets w->ram_checksum. */
int migstream_write_verdict(struct migstream_writer *w, const struct guest_mem *m);

/* Tell the receiver the source gave up (it discards everything).  reason is
 * cut to MIGSTREAM_MAX_ABORT bytes.  Any time before END, round open or not. */
int migstream_write_abort(struct migstream_writer *w, const char *reason);

/* ---- Reader ---- */

enum migstream_ev_type {
	MIGSTREAM_EV_HELLO = 1,	  /* version checked; blob/blob_len = config, ram_size */
	MIGSTREAM_EV_ROUND_BEGIN, /* round */
	MIGSTREAM_EV_PAGES,	  /* round; pages, zero_pages of the batch, written to RAM */
	MIGSTREAM_EV_ROUND_END,	  /* round; pages, zero_pages of the round (checked) */
	MIGSTREAM_EV_STATE,	  /* state_kind, blob, blob_len */
	MIGSTREAM_EV_END,	  /* counts checked; end_csum names the stream */
	MIGSTREAM_EV_VERDICT,	  /* guest RAM checksum verified: ram_checksum */
	MIGSTREAM_EV_EOF,	  /* the stream ended cleanly after VERDICT */
};

struct migstream_event {
	enum migstream_ev_type type;
	uint64_t seq; /* the record's */
	uint64_t round;
	uint64_t pages, zero_pages;
	uint64_t ram_size;
	uint64_t ram_checksum;
	uint64_t end_csum; /* END: its record checksum */
	uint32_t state_kind;
	uint32_t blob_len;
	const void *blob; /* the reader's buffer: valid until the next migstream_read */
};

struct migstream_reader {
	int fd;
	struct guest_mem *mem;
	struct migstream_stats stats; /* bytes and records read; pages applied */
	/* Private. */
	int phase;
	int err; /* the stream was refused: every later read returns this */
	char err_why[256];
	uint64_t next_seq;
	uint64_t ram_size; /* from HELLO */
	uint64_t round;	   /* the open round, or the next one */
	uint64_t round_pages, round_zero;
	uint8_t *meta;	  /* MIGSTREAM_MAX_META bytes */
	uint8_t *data;	  /* MIGSTREAM_BATCH_DATA pages */
	uint8_t **dest;	  /* per descriptor: where in RAM it goes */
	uint64_t *hashes; /* fresh RAM (migstream_reader_fresh): each page's hash */
	uint64_t zero_hash;
	uint64_t end_sum; /* not fresh: RAM's checksum when END arrived */
};

/*
 * Read a stream from fd (blocking; it stays the caller's) into mem.  mem may
 * be NULL when the caller needs HELLO (RAM size, config) before it can
 * create its guest: then attach it with migstream_reader_set_mem before the
 * next read.  Returns 0 or -ENOMEM.
 */
int migstream_reader_init(struct migstream_reader *r, int fd, struct guest_mem *mem);

/* Attach (or replace) the guest RAM pages go to; its size must be the one
 * HELLO announced, which the next read checks. */
void migstream_reader_set_mem(struct migstream_reader *r, struct guest_mem *mem);

/*
 * Declare the attached RAM all zero, and written by nobody but this reader
 * until END (a machine just created for the incoming guest).  The reader
 * then keeps each page's hash as it arrives: a zero marker for a page
 * still zero writes nothing (not even a read, which would fault in a page
 * of a fresh mapping), and VERDICT's checksum is compared with one computed
 * from the hashes, without reading RAM: so the guest may run, and change
 * its RAM, between END and VERDICT.  Returns 0 or -ENOMEM (then nothing
 * changes).
 */
int migstream_reader_fresh(struct migstream_reader *r);

void migstream_reader_destroy(struct migstream_reader *r);

/*
 * Read, check and apply the next record, and describe it in *ev.  Returns 0,
 * or -errno with a one-line reason in why; after an error (but -EINVAL) the
 * stream is dead and every later call returns the same error and reason.
 *   -EPROTO      a bad stream: not a migration stream, another version, a
 *                corrupt header or record (checksum), a record lost,
 *                duplicated or reordered (sequence), an unknown type, a
 *                length over the limits, a malformed record, a record out of
 *                order (PAGES before HELLO, END inside a round, anything
 *                after END...), a page outside guest RAM or unaligned (then
 *                nothing of its batch was written), counts that disagree,
 *                a RAM size other than mem's, or a VERDICT whose RAM
 *                checksum is not that of the RAM received
 *   -ECONNRESET  the stream ended before VERDICT ("truncated after record
 *                N", or inside one), or the peer reset the connection
 *   -ECANCELED   the source sent ABORT (its reason is quoted)
 *   -EINVAL      no guest RAM of HELLO's size attached after HELLO; this one
 *                reads nothing and does not stick: attach it and call again
 *   -EAGAIN      a receive timeout (SO_RCVTIMEO) expired; other read
 *                errors as read(2) reports them
 * Pages land in mem as each PAGES record is read, so after any error the
 * caller must discard mem.  A reader that is not fresh takes RAM's checksum
 * when END arrives, which VERDICT is then compared with.  After VERDICT,
 * one more call returns EV_EOF when the stream ends there (a pipe or file)
 * and -EPROTO when anything follows.
 */
int migstream_read(struct migstream_reader *r, struct migstream_event *ev, char *why,
		   size_t whylen);

/* Name of a record type tag ("PAGES"), or "unknown". */
const char *migstream_type_name(uint32_t type);

#endif
