/*
 * The kernel's file layer: DSFS inodes (fs.c), open files, the page cache
 * (pcache.c) and the dirty-tracking policies (dirty.c).
 */
#ifndef GUEST_FS_H
#define GUEST_FS_H

#include <stdint.h>
#include "../include/abi/fs.h"
#include "../include/abi/pcache.h"

struct page;
struct mm;

struct inode {
	uint32_t ino;		/* index in the DSFS inode table */
	struct abi_fs_inode *d; /* the on-disk inode, in the cached metadata block */
	uint64_t npages;	/* extent length: the file's capacity in pages */
	uint64_t *index;	/* page-cache index: npages entries, GPA | ABI_PCE_* */
	int nopen;		/* open files referring to it */
	int wrmap_dirty;	/* dbit: written through a mapping since the last putpages */
};

struct file {
	struct inode *ip;
	uint64_t off;
	uint32_t flags; /* ABI_O_* */
	int ref;
};

/* fs.c */
void fs_mount(void);
struct inode *fs_lookup(const char *name, int create, int *err);
uint64_t fs_sector(struct inode *ip, uint64_t index);
void fs_meta_dirty(void);
int fs_write_meta(void);
int64_t file_rw(struct file *f, uint64_t uva, uint64_t len, uint64_t off, int write);
int fs_set_size(struct inode *ip, uint64_t size);

/* pcache.c */
extern uint32_t pc_policy;
extern uint32_t pc_boot_flags;		    /* ABI_BOOT_F_* (the test hooks) */
extern uint64_t pc_faults, pc_write_faults; /* published at each SYNC */
void pc_init(const struct abi_boot_params *bp);
void pc_file_open(struct inode *ip);
struct page *pc_get(struct inode *ip, uint64_t index, int read, int *err);
uint64_t page_pa(struct page *pg);
uint64_t *pc_entry(struct page *pg);
struct inode *pc_inode(struct page *pg);
void pc_set_dirty(struct page *pg);
int pc_writeback(struct inode *ip, uint64_t first, uint64_t last);
int pc_flush_all(void);
void pc_syscall_tick(void);
void pc_rmap_add(struct page *pg, struct mm *mm, uint64_t va);
void pc_rmap_del(struct page *pg, struct mm *mm, uint64_t va);
void pc_publish_epoch(uint64_t *args);
uint64_t pc_desc_gpa(void);
void pc_host_written(uint64_t epoch);
int dirty_host_written(struct page *pg);

/* dirty.c: the policies */
int dirty_fault_writable(struct inode *ip, struct page *pg, int write);
void dirty_write_fault(struct inode *ip, struct page *pg);
extern uint64_t dirty_stale_mappings;
void dirty_unmap_pte(struct page *pg, struct mm *mm, uint64_t va, uint64_t pte);
int dirty_clear_for_io(struct page *pg);
int dirty_considered(struct page *pg);
void dirty_scan(void);

#endif
