/* SPDX-License-Identifier: MIT */
/*
 * badsys: invalid system calls must fail with the right errno and change
 * nothing.  Checks are numbered in the order they run; the first mismatch is
 * logged with its number and the program returns 1.  Then three children
 * fault (a wild read, a store into a read-only mapping, a store into the
 * program's own text) and must be killed with ABI_WAIT_KILLED, and the
 * file must still work normally afterwards.
 */
#include "ulib.h"

#define KERNEL_PTR 0xffff800000000000ULL /* the direct map: kernel half */
#define UNMAPPED   0x7f0000000000ULL	 /* user half, below the stack, never mapped */
#define LONG_NAME  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 40 > ABI_FS_NAME_MAX */

_Static_assert(sizeof(LONG_NAME) - 1 == 40, "a 40-character name");
_Static_assert(sizeof(LONG_NAME) - 1 > ABI_FS_NAME_MAX, "the long name is too long");

static int check_no;

/* Check `got` against -errno; log the check's number and name on a mismatch. */
static int expect(long got, long expect_val, const char *what)
{
	check_no++;
	if (got == expect_val)
		return 0;
	ulog("check %d (%s): got %ld, expected %ld", check_no, what, got, expect_val);
	return 1;
}

#define EXPECT(call, err)                                                                          \
	do {                                                                                       \
		if (expect((long)(call), -(long)(err), #call))                                     \
			return 1;                                                                  \
	} while (0)

/*
 * An address the compiler cannot see through, so it neither warns about nor
 * optimizes away an access to a deliberately bad pointer.
 */
static volatile uint64_t *opaque(uint64_t addr)
{
	__asm__("" : "+r"(addr));
	return (volatile uint64_t *)addr;
}

/* What a killed child does: 1 = read 0x10, 2 = store to `ro`, 3 = store to text. */
static void child_fault(int how, uint8_t *ro)
{
	switch (how) {
	case 1:
		(void)*opaque(0x10);
		break;
	case 2:
		*opaque((uint64_t)ro) = 1;
		break;
	case 3:
		*opaque(ABI_USER_TEXT) = 0;
		break;
	}
	/* Still alive: exit 0, which the parent reports as not killed. */
	sys_exit(0);
}

static int expect_killed(int how, uint8_t *ro, const char *what)
{
	int status = -1;
	long pid = sys_fork();

	if (pid < 0)
		return fail("fork", pid);
	if (pid == 0)
		child_fault(how, ro);
	if (expect(sys_wait(&status), pid, what))
		return 1;
	return expect(status, ABI_WAIT_KILLED, what);
}

int wl_badsys(const struct abi_wl_args *a)
{
	const char *name = abi_wl_file_name(a->workload);
	int64_t cap = (int64_t)(a->pages * ABI_PAGE_SIZE); /* the file's capacity */
	uint64_t buf = 0x5a5a5a5a5a5a5a5aULL, back = 0;
	int status;
	long r;

	EXPECT(syscall6(0, 0, 0, 0, 0, 0, 0), ABI_ENOSYS);
	EXPECT(syscall6(999, 0, 0, 0, 0, 0, 0), ABI_ENOSYS);

	/* Bad descriptors: never opened, out of range, and just closed. */
	long cfd = sys_open(name, ABI_O_RDWR);
	if (cfd < 0)
		return fail("open", cfd);
	if ((r = sys_close(cfd)) < 0)
		return fail("close", r);
	const int bad_fds[] = {-1, 99, (int)cfd};
	for (unsigned i = 0; i < sizeof(bad_fds) / sizeof(bad_fds[0]); i++) {
		int bfd = bad_fds[i];
		EXPECT(sys_read(bfd, &buf, 8), ABI_EBADF);
		EXPECT(sys_write(bfd, &buf, 8), ABI_EBADF);
		EXPECT(sys_close(bfd), ABI_EBADF);
		EXPECT(sys_fsync(bfd), ABI_EBADF);
	}

	/* Bad names and flags. */
	EXPECT(sys_open(NULL, ABI_O_RDWR), ABI_EFAULT);
	EXPECT(sys_open((const char *)KERNEL_PTR, ABI_O_RDWR), ABI_EFAULT);
	EXPECT(sys_open("nosuchfile", ABI_O_RDWR), ABI_ENOENT);
	EXPECT(sys_open(LONG_NAME, ABI_O_RDWR), ABI_ENAMETOOLONG);
	EXPECT(sys_open(name, 3), ABI_EINVAL);

	long fd = sys_open(name, ABI_O_RDWR);
	if (fd < 0)
		return fail("open", fd);
	long rofd = sys_open(name, ABI_O_RDONLY);
	if (rofd < 0)
		return fail("open read-only", rofd);
	r = sys_mmap(NULL, ABI_PAGE_SIZE, ABI_PROT_READ, ABI_MAP_PRIVATE | ABI_MAP_ANONYMOUS, -1,
		     0);
	if (r < 0)
		return fail("read-only anonymous mmap", r);
	uint8_t *ro = (uint8_t *)r;

	/* Bad buffers: unmapped, kernel half, read-only. */
	EXPECT(sys_write(fd, (const void *)0x10, 8), ABI_EFAULT);
	EXPECT(sys_write(fd, (const void *)KERNEL_PTR, 8), ABI_EFAULT);
	if (want(sys_lseek(fd, 0, ABI_SEEK_SET), 0, "lseek"))
		return 1;
	EXPECT(sys_read(fd, ro, 8), ABI_EFAULT);

	/* Bad offsets and sizes. */
	EXPECT(sys_pwrite(fd, &buf, 8, cap), ABI_EFBIG);
	EXPECT(sys_pwrite(fd, &buf, 8, cap + (1 << 20)), ABI_EFBIG);
	EXPECT(sys_pread(fd, &buf, 8, -4096), ABI_EINVAL);
	EXPECT(sys_lseek(fd, -1, ABI_SEEK_SET), ABI_EINVAL);
	EXPECT(sys_lseek(fd, 0, 7), ABI_EINVAL);

	/* Bad mmaps. */
	int rw = ABI_PROT_READ | ABI_PROT_WRITE;
	EXPECT(sys_mmap(NULL, 0, rw, ABI_MAP_SHARED, fd, 0), ABI_EINVAL);
	EXPECT(sys_mmap(NULL, ABI_PAGE_SIZE, rw, ABI_MAP_SHARED, fd, 100), ABI_EINVAL);
	EXPECT(sys_mmap(NULL, ABI_PAGE_SIZE, rw, ABI_MAP_SHARED | ABI_MAP_PRIVATE, fd, 0),
	       ABI_EINVAL);
	EXPECT(sys_mmap(NULL, ABI_PAGE_SIZE, rw, 0, fd, 0), ABI_EINVAL);
	EXPECT(sys_mmap(NULL, ABI_PAGE_SIZE, rw, ABI_MAP_SHARED, rofd, 0), ABI_EACCES);
	EXPECT(sys_mmap(NULL, ABI_PAGE_SIZE, rw, ABI_MAP_SHARED, 99, 0), ABI_EBADF);
	EXPECT(sys_mmap(NULL, cap + ABI_PAGE_SIZE, rw, ABI_MAP_SHARED, fd, 0), ABI_EINVAL);
	EXPECT(sys_mmap(NULL, ABI_PAGE_SIZE, rw, ABI_MAP_SHARED, fd, cap), ABI_EINVAL);
	EXPECT(sys_munmap(ro + 1, ABI_PAGE_SIZE), ABI_EINVAL);
	EXPECT(sys_msync(ro, ABI_PAGE_SIZE, 0x100), ABI_EINVAL);
	EXPECT(sys_msync((void *)UNMAPPED, ABI_PAGE_SIZE, ABI_MS_SYNC), ABI_ENOMEM);

	/* No children yet; and the file's extent bounds its size. */
	EXPECT(sys_wait(&status), ABI_ECHILD);
	EXPECT(sys_ftruncate(fd, (uint64_t)cap + ABI_PAGE_SIZE), ABI_EFBIG);

	/* Faulting children are killed; the parent goes on. */
	if (expect_killed(1, ro, "child reading 0x10") ||
	    expect_killed(2, ro, "child writing a PROT_READ mapping") ||
	    expect_killed(3, ro, "child writing its own text"))
		return 1;

	/* After all that, the file works. */
	buf = 0x0123456789abcdefULL;
	if (want(sys_lseek(fd, 0, ABI_SEEK_SET), 0, "lseek") ||
	    want(sys_write(fd, &buf, 8), 8, "write") ||
	    want(sys_lseek(fd, 0, ABI_SEEK_SET), 0, "lseek") ||
	    want(sys_read(fd, &back, 8), 8, "read"))
		return 1;
	if (back != buf) {
		ulog("read back 0x%lx after writing 0x%lx", back, buf);
		return 1;
	}
	if ((r = sys_fsync(fd)) < 0)
		return fail("fsync", r);
	if ((r = sys_close(rofd)) < 0 || (r = sys_close(fd)) < 0)
		return fail("close", r);
	return 0;
}
