/*
 * Where the guest kernel is (guestkernel.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/guestkernel.h"
#include "vmm/boot.h"

/*
 * The build embeds the kernel in the binary (vmm/guest_image.S), so an
 * installed dirtyscope needs no other file to run it and cannot pick up a
 * stale kernel from a build tree: the path given is the binary's own,
 * resolved by the kernel, not argv[0].  The same kernel as an ELF file (for
 * QEMU's -kernel, docs/abi.md) is looked up beside it: installed
 * (DS_GUEST_ELF_INSTALLED, ../lib/dirtyscope/dirtyscope-guest.elf from the
 * binary's directory), else in the build tree the binary was built in
 * (DS_GUEST_ELF_BUILD, ../guest/guest.elf).  Installed comes first: an
 * installed binary never names a build tree's kernel.
 */
void guestkernel_find(struct guest_kernel *g)
{
	static const char *const rel[] = {DS_GUEST_ELF_INSTALLED, DS_GUEST_ELF_BUILD};
	ssize_t n = readlink("/proc/self/exe", g->self, sizeof(g->self) - 1);

	g->embedded_bytes = (size_t)(guest_image_end - guest_image);
	g->elf[0] = '\0';
	g->self_ok = n >= 0;
	if (!g->self_ok) {
		snprintf(g->self, sizeof(g->self), "this binary (/proc/self/exe: %s)",
			 strerror(errno));
		return;
	}
	g->self[n] = '\0';
	char *slash = strrchr(g->self, '/');
	int dirlen = slash ? (int)(slash - g->self) : 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char path[sizeof(g->elf)], *real;
		snprintf(path, sizeof(path), "%.*s/%s", dirlen, g->self, rel[i]);
		if (access(path, R_OK) != 0 || !(real = realpath(path, NULL)))
			continue;
		snprintf(g->elf, sizeof(g->elf), "%s", real);
		free(real);
		return;
	}
}

