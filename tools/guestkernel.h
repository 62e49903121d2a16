/*
 * Where the guest kernel is: embedded in this binary for dirtyscope's own
 * VMM, and as an ELF file with the PVH note for QEMU and libvirt, which
 * `info` names and `dirtyscope libvirt` boots.
 */
#ifndef TOOLS_GUESTKERNEL_H
#define TOOLS_GUESTKERNEL_H

#include <stdbool.h>
#include <stddef.h>

struct guest_kernel {
	char self[4096]; /* this binary, as the kernel resolves /proc/self/exe */
	bool self_ok;
	size_t embedded_bytes;
	char elf[4096 + 64]; /* guest.elf with the PVH note; "" when not found */
};

/*
 * Fill *g: this binary's path, the embedded kernel's size, and the ELF
 * file's absolute path, installed beside the binary first, else in the
 * build tree it was built in; g->elf is "" when neither is readable.
 */
void guestkernel_find(struct guest_kernel *g);

#endif
