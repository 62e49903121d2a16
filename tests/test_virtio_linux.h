/* Linux's virtio uapi values, looked up by our identifier's spelling
 * (tests/test_virtio_linux.c). */
#ifndef TESTS_TEST_VIRTIO_LINUX_H
#define TESTS_TEST_VIRTIO_LINUX_H

#include <stddef.h>
#include <stdint.h>

struct linux_virtio_value {
	const char *name; /* our identifier or expression, as # spells it */
	uint64_t value;	  /* Linux's */
};

/* Linux's value for `ours` in *value: 0, or -1 when the table lacks it. */
int linux_virtio_lookup(const char *ours, uint64_t *value);

/* Entries in the table, so the test can check it compared all of them. */
size_t linux_virtio_count(void);

#endif
