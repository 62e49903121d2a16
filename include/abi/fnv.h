/* SPDX-License-Identifier: MIT */
/*
 * The word hash every dirtyscope checksum is built from: FNV-1a over 64-bit
 * words instead of bytes, with a shift-xor after each multiply so that the
 * high bits the multiply produces reach the low bits the next xor feeds.
 * DSFS metadata (abi_fs_csum, computed by the guest too), the image hash
 * outside extents, the journal and the migration stream all chain this one
 * step, so its constants and its shift are on-disk and on-wire format: they
 * must never change.  Freestanding: fixed-width types only, no libc.
 */
#ifndef ABI_FNV_H
#define ABI_FNV_H

#define ABI_FNV_BASIS 0xcbf29ce484222325ULL /* FNV-1a 64-bit offset basis */
#define ABI_FNV_PRIME 0x100000001b3ULL	    /* FNV-1a 64-bit prime */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Fold word w into hash h.  always_inline: the migration stream hashes the
 * whole guest RAM through it during downtime, Debug builds included. */
static inline __attribute__((always_inline)) uint64_t abi_fnv_step(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= ABI_FNV_PRIME;
	return h ^ (h >> 29);
}
#endif

#endif
