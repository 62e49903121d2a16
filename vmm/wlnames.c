/* The workload and policy name tables (vmm/wlnames.h). */
#include <string.h>

#include "abi/boot.h"
#include "abi/pcache.h"
#include "util/strlist.h"
#include "vmm/wlnames.h"

const struct wl_name wl_names[] = {
    {"seq", ABI_WL_SEQ, WL_ANON},	    {"random", ABI_WL_RANDOM, WL_ANON},
    {"hotcold", ABI_WL_HOTCOLD, WL_ANON},   {"db", ABI_WL_DB, WL_FILE},
    {"log", ABI_WL_LOG, WL_FILE},	    {"shared2", ABI_WL_SHARED2, WL_FILE},
    {"private", ABI_WL_PRIVATE, WL_FILE},   {"forkcow", ABI_WL_FORKCOW, WL_FILE},
    {"mixed", ABI_WL_MIXED, WL_FILE},	    {"badsys", ABI_WL_BADSYS, WL_SELFTEST},
    {"badblk", ABI_WL_BADBLK, WL_SELFTEST}, {NULL, 0, 0},
};

const struct policy_name policy_names[] = {
    {"wp", ABI_POLICY_WP},
    {"dbit", ABI_POLICY_DBIT},
    {"scan", ABI_POLICY_SCAN},
    {"lossy", ABI_POLICY_LOSSY},
    {"noflush", ABI_POLICY_NOFLUSH},
    {NULL, 0},
};

#define MAX_NAMES 32 /* more than either table holds */

const char *wl_name_of(uint32_t id)
{
	for (const struct wl_name *w = wl_names; w->name; w++)
		if (w->id == id)
			return w->name;
	return NULL;
}

const struct wl_name *wl_find(const char *name)
{
	for (const struct wl_name *w = wl_names; w->name; w++)
		if (!strcmp(w->name, name))
			return w;
	return NULL;
}

unsigned wl_kind(uint32_t id)
{
	for (const struct wl_name *w = wl_names; w->name; w++)
		if (w->id == id)
			return w->kind;
	return 0;
}

const char *wl_list(unsigned kinds, const char *sep, const char *last, char *buf, size_t len)
{
	const char *names[MAX_NAMES];
	size_t n = 0;
	for (const struct wl_name *w = wl_names; w->name && n < MAX_NAMES; w++)
		if (w->kind & kinds)
			names[n++] = w->name;
	return strlist_join(buf, len, names, n, sep, last);
}

const char *policy_name_of(uint32_t id)
{
	for (const struct policy_name *p = policy_names; p->name; p++)
		if (p->id == id)
			return p->name;
	return NULL;
}

const struct policy_name *policy_find(const char *name)
{
	for (const struct policy_name *p = policy_names; p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

const char *policy_list(const char *sep, const char *last, char *buf, size_t len)
{
	const char *names[MAX_NAMES];
	size_t n = 0;
	for (const struct policy_name *p = policy_names; p->name && n < MAX_NAMES; p++)
		names[n++] = p->name;
	return strlist_join(buf, len, names, n, sep, last);
}
