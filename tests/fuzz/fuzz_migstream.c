/*
 * libFuzzer target: the migration stream reader (logger/migrate/
 * migstream_read.c) on arbitrary bytes.  Before reading, every record's
 * hdr_csum and csum are recomputed as the writer would
 * (migstream_sum.c), so the fuzzer reaches the parsing behind the
 * checksums; the reader still sees every length, sequence number and
 * field exactly as fuzzed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi/layout.h"
#include "logger/migrate/migstream.h"
#include "logger/migrate/migstream_int.h"
#include "vmm/mem.h"

#define RAM ABI_RAM_MIN /* 16 MiB, the smallest guest */

static struct guest_mem mem;

/* Recompute the checksums of every whole record in buf[0..len). */
static void fix_checksums(uint8_t *buf, size_t len)
{
	size_t off = 0;
	uint64_t *sums = malloc(MIGSTREAM_BATCH_DATA * sizeof(*sums));

	while (sums && len - off >= sizeof(struct migstream_rec)) {
		struct migstream_rec h;
		memcpy(&h, buf + off, sizeof(h));
		h.hdr_csum = migstream_fold32(migstream_hdr_chain(&h));
		size_t meta = h.meta_len, body = len - off - sizeof(h);
		if (meta > body || h.nr_data > MIGSTREAM_BATCH_DATA ||
		    (uint64_t)h.nr_data * PAGE > body - meta) {
			memcpy(buf + off, &h, sizeof(h)); /* a header worth reading */
			break;
		}
		const uint8_t *data = buf + off + sizeof(h) + meta;
		for (uint32_t i = 0; i < h.nr_data; i++) {
			uint64_t page[PAGE_WORDS];
			memcpy(page, data + (size_t)i * PAGE, PAGE);
			sums[i] = migstream_page_hash(page);
		}
		h.csum = migstream_rec_csum(&h, buf + off + sizeof(h), meta, NULL, 0, sums);
		memcpy(buf + off, &h, sizeof(h));
		off += sizeof(h) + meta + (size_t)h.nr_data * PAGE;
	}
	free(sums);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!mem.host && mem_create(&mem, RAM))
		abort();
	/* Fresh zero RAM every run, so a run depends on its input alone. */
	madvise(mem.host, mem.ram_size, MADV_DONTNEED);

	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	fix_checksums(buf, size);
	/* The seed replay (CTest) sets this: what the project's own writer
	 * wrote must come out of the fix-up unchanged, or the fix-up no
	 * longer computes the format's checksums. */
	if (getenv("DS_FUZZ_SEEDS_INTACT") && memcmp(buf, data, size))
		abort();
	int fd = memfd_create("fuzz-migstream", 0);
	if (fd < 0 || (size && write(fd, buf, size) != (ssize_t)size))
		abort();
	lseek(fd, 0, SEEK_SET);
	free(buf);

	struct migstream_reader r;
	if (migstream_reader_init(&r, fd, &mem))
		abort();
	/* Both RAM paths for VERDICT's check: RAM read at END, or hashes kept
	 * as pages land. */
	if (size & 1)
		migstream_reader_fresh(&r);
	for (int i = 0; i < 4096; i++) {
		struct migstream_event ev;
		char why[256];
		int ret = migstream_read(&r, &ev, why, sizeof(why));
		if (ret || ev.type == MIGSTREAM_EV_EOF)
			break;
		if (ev.type == MIGSTREAM_EV_HELLO && ev.ram_size != mem.ram_size)
			break; /* the receiver would refuse to create this guest */
	}
	migstream_reader_destroy(&r);
	close(fd);
	return 0;
}
