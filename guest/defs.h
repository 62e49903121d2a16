/* Kernel-wide declarations: one section per file, xv6 style. */
#ifndef GUEST_DEFS_H
#define GUEST_DEFS_H

#include <stddef.h>
#include <stdint.h>
#include "../include/abi/layout.h"
#include "../include/abi/boot.h"

/* Physical <-> direct-map virtual addresses. */
#define P2V(pa) ((void *)((uint64_t)(pa) + ABI_DMAP_BASE))
#define V2P(va) ((uint64_t)(va)-ABI_DMAP_BASE)

/* console.c */
void console_putc(char c);
void console_poll_ready(void);
void cprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf_k(char *buf, size_t size, const char *fmt, __builtin_va_list ap);
int snprintf_k(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* hcall.c: to the VMM, or standalone (PVH boot) to standalone.c */
void hcall_standalone(void);
void hcall_ready(void);
void hcall_start_aps(void);
void hcall_sync(uint64_t epoch, uint64_t pages, uint64_t stores, const uint64_t *cpu_pages,
		uint32_t nr_cpus);
uint32_t hcall_reply(void);
uint32_t hcall_sync_reply(uint64_t round, uint64_t pages, uint64_t stores,
			  const uint64_t *cpu_pages, uint32_t nr_cpus);
struct abi_progress;
volatile struct abi_progress *hcall_progress(void);
void hcall_done(uint64_t status, uint64_t epochs, uint64_t check_failed);
void hcall_sync_args(const uint64_t *args);
void hcall_ready_desc(uint64_t desc_gpa);
void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct trapframe;
void panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void panic_trap(struct trapframe *tf) __attribute__((noreturn));
#define panic(...) panic_at(__FILE_NAME__, __LINE__, __VA_ARGS__)

/* standalone.c: the hypercalls' standalone forms (COM1, QEMU's debug exit) */
void standalone_boot_line(const struct abi_boot_params *bp);
void standalone_ready(void);
void standalone_sync(uint64_t epoch, uint64_t pages, uint64_t stores);
void standalone_done(uint64_t status, uint64_t epochs, uint64_t check_failed)
    __attribute__((noreturn));
void standalone_log(const char *text);
void standalone_panic(const char *text, const uint64_t *args) __attribute__((noreturn));

/* syscall.c */
uint64_t syscall_epochs(void);

/* gdt.c, trap.c */
void gdt_init(uint32_t cpu);
void gdt_set_kstack(uint32_t cpu, uint64_t top);
void idt_init(void);
void idt_load(void);

/* lib.c */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
size_t strlen(const char *s);

/* pmem.c */
void pmem_init(const struct abi_boot_params *bp);
uint64_t pmem_alloc_kernel(void);
uint64_t pmem_alloc_user(void);
uint64_t pmem_alloc_kernel_contig(uint64_t n);
uint64_t pmem_try_alloc(int zero);
void pmem_free(uint64_t pa);
uint64_t pmem_free_pages(void);
void pmem_free_list(uint64_t *head, uint64_t *n);
/* pcache.c overrides pmem.c's weak default: evict one page when RAM runs dry. */
int pc_reclaim(void);

/* vm.c */
uint64_t *vm_walk(uint64_t *pml4, uint64_t va, int alloc);
uint64_t *vm_new_space(void);
void vm_map_fresh(uint64_t *pml4, uint64_t va, uint64_t pages);

/* virtio.c: the virtio-blk driver (polled).  Sectors are 512 bytes; pa is a
 * guest-physical buffer of len bytes.  Return 0 or -ABI_EIO. */
int blk_init(void);
uint64_t blk_capacity(void); /* in 512-byte sectors */
int blk_rw(int write, uint64_t sector, uint64_t pa, uint32_t len);
int blk_flush(void);
int blk_selftest_hostile(void); /* ABI_WL_BADBLK: 0 when the device refused every bad request */

/* ipi.c: the in-kernel LAPIC's IPIs: the file world's wake-ups and TLB
 * shootdowns, and the platform test (ABI_BOOT_F_TEST_IPI) */
#define IPI_VECTOR	0xf0
#define SPURIOUS_VECTOR 0xff
void ipi_entry(void);	   /* entry.S: the vector's stub, which calls ipi_handler */
void spurious_entry(void); /* entry.S: returns at once (a spurious interrupt has no EOI) */
void lapic_init(void);
void ipi_send(uint32_t cpu);
void ipi_handler(void);
void ipi_ap_wait(void);
void ipi_measure(uint32_t nr_cpus);

/* tlb.c: TLB shootdown (the other declarations are in mm.h) */
void tlb_shootdown_answer(void);

/* workload.c */
uint64_t workload_run(const struct abi_boot_params *bp, uint64_t base, uint64_t cr3,
		      uint64_t *rounds);

#endif
