/*
 * System calls (include/abi/syscall.h).  Arguments come from the trap frame;
 * every pointer and length is checked and every user buffer is reached
 * through copy_in/copy_out, so a bad argument is a negative errno, never a
 * kernel fault.  The flusher ticks once per call.
 */
#include "../include/abi/hcall.h"
#include "../include/abi/syscall.h"
#include "defs.h"
#include "fs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

static uint64_t epochs_done;

/* Epochs the workload has ended so far (for the DONE hypercall). */
uint64_t syscall_epochs(void)
{
	return epochs_done;
}

static struct file *fd_get(uint64_t fd)
{
	return fd < ABI_MAX_FDS ? current->fds[fd] : NULL;
}

static int64_t sys_open(uint64_t uname, uint64_t flags)
{
	char name[ABI_FS_NAME_MAX + 1];
	if (flags & ~(uint64_t)(ABI_O_ACCMODE | ABI_O_CREAT | ABI_O_APPEND) ||
	    (flags & ABI_O_ACCMODE) == 3)
		return -ABI_EINVAL;
	int n = copy_in_str(&current->mm, name, uname, sizeof(name));
	if (n < 0)
		return n;
	if (n == 0)
		return -ABI_ENOENT;
	int fd = 0;
	while (fd < ABI_MAX_FDS && current->fds[fd])
		fd++;
	if (fd == ABI_MAX_FDS)
		return -ABI_EMFILE;
	int err = 0;
	struct inode *ip = fs_lookup(name, (flags & ABI_O_CREAT) != 0, &err);
	if (!ip)
		return err;
	pc_file_open(ip);
	struct file *f = kalloc(sizeof(*f));
	*f = (struct file){.ip = ip, .flags = (uint32_t)flags, .ref = 1};
	ip->nopen++;
	current->fds[fd] = f;
	return fd;
}

static int64_t sys_close(uint64_t fd)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -ABI_EBADF;
	current->fds[fd] = NULL;
	if (--f->ref == 0) {
		f->ip->nopen--;
		kfree(f, sizeof(*f));
	}
	return 0;
}

static int64_t sys_rw(uint64_t fd, uint64_t buf, uint64_t len, int64_t off, int write, int pos)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -ABI_EBADF;
	uint32_t acc = f->flags & ABI_O_ACCMODE;
	if (write ? acc == ABI_O_RDONLY : acc == ABI_O_WRONLY)
		return -ABI_EBADF;
	if (pos && off < 0)
		return -ABI_EINVAL;
	if (buf + len < buf || buf + len > ABI_USER_TOP)
		return -ABI_EFAULT;
	uint64_t at = pos ? (uint64_t)off : f->off;
	if (!pos && write && (f->flags & ABI_O_APPEND))
		at = f->ip->d->size;
	int64_t n = file_rw(f, buf, len, at, write);
	if (n > 0 && !pos)
		f->off = at + (uint64_t)n;
	return n;
}

static int64_t sys_lseek(uint64_t fd, int64_t off, uint64_t whence)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -ABI_EBADF;
	int64_t base;
	switch (whence) {
	case ABI_SEEK_SET:
		base = 0;
		break;
	case ABI_SEEK_CUR:
		base = (int64_t)f->off;
		break;
	case ABI_SEEK_END:
		base = (int64_t)f->ip->d->size;
		break;
	default:
		return -ABI_EINVAL;
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return -ABI_EINVAL;
	f->off = (uint64_t)(base + off);
	return (int64_t)f->off;
}

static int64_t sys_fsync(uint64_t fd)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -ABI_EBADF;
	if (pc_writeback(f->ip, 0, f->ip->npages ? f->ip->npages - 1 : 0) || fs_write_meta() ||
	    blk_flush())
		return -ABI_EIO;
	return 0;
}

static int64_t sys_ftruncate(uint64_t fd, int64_t len)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -ABI_EBADF;
	if ((f->flags & ABI_O_ACCMODE) == ABI_O_RDONLY || len < 0)
		return -ABI_EINVAL;
	return fs_set_size(f->ip, (uint64_t)len);
}

static int page_aligned(uint64_t v)
{
	return v % ABI_PAGE_SIZE == 0;
}

static int64_t sys_mmap(uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd, uint64_t off)
{
	uint64_t share = flags & (ABI_MAP_SHARED | ABI_MAP_PRIVATE);
	if (!len || len > ABI_USER_TOP || !page_aligned(off) ||
	    (prot & ~(uint64_t)(ABI_PROT_READ | ABI_PROT_WRITE)) ||
	    (flags & ~(uint64_t)(ABI_MAP_SHARED | ABI_MAP_PRIVATE | ABI_MAP_ANONYMOUS)) ||
	    (share != ABI_MAP_SHARED && share != ABI_MAP_PRIVATE))
		return -ABI_EINVAL;
	len = (len + ABI_PAGE_SIZE - 1) & ~(uint64_t)(ABI_PAGE_SIZE - 1);
	prot |= ABI_PROT_READ; /* x86 cannot map write-only */
	if (flags & ABI_MAP_ANONYMOUS) {
		if (share == ABI_MAP_SHARED)
			return -ABI_EINVAL; /* shared anonymous memory is not supported */
		return mm_add_vma(&current->mm, 0, len, (uint32_t)prot, VMA_ANON, NULL, 0);
	}
	struct file *f = fd_get(fd);
	if (!f)
		return -ABI_EBADF;
	uint32_t acc = f->flags & ABI_O_ACCMODE;
	if (acc == ABI_O_WRONLY ||
	    (share == ABI_MAP_SHARED && (prot & ABI_PROT_WRITE) && acc != ABI_O_RDWR))
		return -ABI_EACCES;
	/* A mapping covers the file's extent at most: its capacity is fixed. */
	uint64_t pgoff = off / ABI_PAGE_SIZE, npg = len / ABI_PAGE_SIZE;
	if (pgoff > f->ip->npages || npg > f->ip->npages - pgoff)
		return -ABI_EINVAL;
	uint32_t kind = share == ABI_MAP_SHARED ? VMA_FILE_SHARED : VMA_FILE_PRIVATE;
	return mm_add_vma(&current->mm, 0, len, (uint32_t)prot, kind, f->ip, pgoff);
}

static int64_t sys_munmap(uint64_t addr, uint64_t len)
{
	if (!page_aligned(addr) || !len || addr + len < addr || addr + len > ABI_USER_TOP)
		return -ABI_EINVAL;
	len = (len + ABI_PAGE_SIZE - 1) & ~(uint64_t)(ABI_PAGE_SIZE - 1);
	return mm_unmap(&current->mm, addr, len);
}

/* msync: write back the file pages of the shared mappings in the range
 * (MS_ASYNC does the same: all writeback here is synchronous). */
static int64_t sys_msync(uint64_t addr, uint64_t len, uint64_t flags)
{
	if (!page_aligned(addr) || addr + len < addr || addr + len > ABI_USER_TOP ||
	    (flags & ~(uint64_t)(ABI_MS_ASYNC | ABI_MS_SYNC | ABI_MS_INVALIDATE)) ||
	    ((flags & ABI_MS_ASYNC) && (flags & ABI_MS_SYNC)))
		return -ABI_EINVAL;
	len = (len + ABI_PAGE_SIZE - 1) & ~(uint64_t)(ABI_PAGE_SIZE - 1);
	struct mm *mm = &current->mm;
	/* Like Linux: the whole range must be mapped. */
	for (uint64_t va = addr; va < addr + len;) {
		struct vma *v = mm_find(mm, va);
		if (!v)
			return -ABI_ENOMEM;
		va = v->end;
	}
	int ret = 0;
	for (uint64_t va = addr; va < addr + len;) {
		struct vma *v = mm_find(mm, va);
		uint64_t end = v->end < addr + len ? v->end : addr + len;
		if (v->kind == VMA_FILE_SHARED) {
			uint64_t first = v->pgoff + (va - v->start) / ABI_PAGE_SIZE;
			uint64_t last = v->pgoff + (end - v->start) / ABI_PAGE_SIZE - 1;
			if (pc_writeback(v->ip, first, last))
				ret = -ABI_EIO;
		}
		va = end;
	}
	if (!ret && (flags & ABI_MS_SYNC) && blk_flush())
		ret = -ABI_EIO;
	return ret;
}

static int64_t sys_epoch(uint64_t stores)
{
	uint64_t args[ABI_HCALL_NR_ARGS] = {0};
	args[0] = ++epochs_done;
	args[1] = stores;
	pc_publish_epoch(args);
	hcall_sync_args(args);
	pc_host_written(args[0]);
	return 0;
}

static int64_t sys_log(uint64_t text, uint64_t len)
{
	char buf[256];
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	int err = copy_in(&current->mm, buf, text, len);
	if (err)
		return err;
	buf[len] = 0;
	klog("pid %d: %s", current->pid, buf);
	return 0;
}

static int64_t dispatch(struct trapframe *tf)
{
	uint64_t a0 = tf->rdi, a1 = tf->rsi, a2 = tf->rdx, a3 = tf->r10, a4 = tf->r8, a5 = tf->r9;
	switch (tf->rax) {
	case ABI_SYS_EXIT:
		proc_exit((int)(a0 & 0xff));
	case ABI_SYS_FORK:
		return proc_fork();
	case ABI_SYS_WAIT:
		return proc_wait(a0);
	case ABI_SYS_YIELD:
		proc_yield();
		return 0;
	case ABI_SYS_GETPID:
		return current->pid;
	case ABI_SYS_OPEN:
		return sys_open(a0, a1);
	case ABI_SYS_CLOSE:
		return sys_close(a0);
	case ABI_SYS_READ:
		return sys_rw(a0, a1, a2, 0, 0, 0);
	case ABI_SYS_WRITE:
		return sys_rw(a0, a1, a2, 0, 1, 0);
	case ABI_SYS_PREAD:
		return sys_rw(a0, a1, a2, (int64_t)a3, 0, 1);
	case ABI_SYS_PWRITE:
		return sys_rw(a0, a1, a2, (int64_t)a3, 1, 1);
	case ABI_SYS_LSEEK:
		return sys_lseek(a0, (int64_t)a1, a2);
	case ABI_SYS_FSYNC:
		return sys_fsync(a0);
	case ABI_SYS_FTRUNCATE:
		return sys_ftruncate(a0, (int64_t)a1);
	case ABI_SYS_MMAP:
		(void)a0; /* the address is a hint, and this kernel ignores hints */
		return sys_mmap(a1, a2, a3, a4, a5);
	case ABI_SYS_MUNMAP:
		return sys_munmap(a0, a1);
	case ABI_SYS_MSYNC:
		return sys_msync(a0, a1, a2);
	case ABI_SYS_EPOCH:
		return sys_epoch(a0);
	case ABI_SYS_LOG:
		return sys_log(a0, a1);
	default:
		return -ABI_ENOSYS;
	}
}

/* The system-call entry: run the call, put its result in rax. */
void syscall(struct trapframe *tf)
{
	int64_t ret = dispatch(tf);
	tf->rax = (uint64_t)ret;
	pc_syscall_tick();
}
