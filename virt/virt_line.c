/*
 * The standalone guest's serial lines, parsed (virt_line.h).
 *
 * json-c does the parsing: a console line is untrusted, and a well-kept
 * parser's handling of every malformed input is worth more than the few
 * lines a hand-written one for these flat objects would save.  What json-c
 * cannot know is checked here: each member's type and range.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "virt/virt_line.h"

/* A member that must be a non-negative integer below 2^64 - 1.  json-c
 * keeps a negative integer as int64 and a positive one that does not fit
 * int64 as uint64, and clamps what fits neither to UINT64_MAX: so
 * UINT64_MAX itself may be a clamped value, and is refused.  (A seed is a
 * whole uint64 on the guest's side; the options stop one short of it.) */
static int get_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EPROTO;
	if (json_object_get_int64(v) < 0)
		return -EPROTO;
	uint64_t x = json_object_get_uint64(v);
	if (x == UINT64_MAX)
		return -EPROTO;
	*out = x;
	return 0;
}

static int get_bool(json_object *o, const char *key, int *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return -EPROTO;
	*out = json_object_get_boolean(v);
	return 0;
}

/* A string member into buf; -EPROTO when missing, not a string or too long. */
static int get_str(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return -EPROTO;
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (n >= len || memchr(s, '\0', n))
		return -EPROTO;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

static int has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* Fill `l` from an object, by the member that names its kind. */
static int parse_object(json_object *o, struct virt_line *l)
{
	int t, ret = 0;

	if (has(o, "boot")) {
		char boot[8];
		l->kind = VIRT_LINE_BOOT;
		if ((ret = get_str(o, "boot", boot, sizeof(boot))) ||
		    (ret = get_str(o, "workload", l->workload, sizeof(l->workload))) ||
		    (ret = get_u64(o, "wss", &l->wss)) || (ret = get_u64(o, "epochs", &l->epochs)) ||
		    (ret = get_u64(o, "writes", &l->writes)) || (ret = get_u64(o, "seed", &l->seed)) ||
		    (ret = get_u64(o, "ram-mib", &l->ram_mib)))
			return ret;
		if (strcmp(l->workload, "seq") && strcmp(l->workload, "random") &&
		    strcmp(l->workload, "hotcold"))
			return -EPROTO;
	} else if (has(o, "ready")) {
		l->kind = VIRT_LINE_READY;
		if ((ret = get_bool(o, "ready", &t)) || !t)
			return -EPROTO;
	} else if (has(o, "epoch")) {
		l->kind = VIRT_LINE_EPOCH;
		if ((ret = get_u64(o, "epoch", &l->epoch)) || (ret = get_u64(o, "pages", &l->pages)) ||
		    (ret = get_u64(o, "stores", &l->stores)))
			return ret;
		/* A page counts once however often it is stored to. */
		if (l->pages > l->stores)
			return -EPROTO;
	} else if (has(o, "done")) {
		char check[8];
		l->kind = VIRT_LINE_DONE;
		if ((ret = get_bool(o, "done", &t)) || !t || (ret = get_u64(o, "status", &l->status)) ||
		    (ret = get_u64(o, "epochs", &l->epochs)) ||
		    (ret = get_str(o, "check", check, sizeof(check))))
			return -EPROTO;
		if (!strcmp(check, "failed"))
			l->check_failed = 1;
		else if (strcmp(check, "ok"))
			return -EPROTO;
	} else {
		return -EPROTO;
	}
	return get_u64(o, "tsc", &l->tsc);
}

int virt_line_parse(const char *s, size_t n, struct virt_line *out)
{
	memset(out, 0, sizeof(*out));
	if (n > VIRT_LINE_MAX)
		return -E2BIG;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == n || s[i] != '{')
		return 0; /* text for people */
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_object *o = json_tokener_parse_ex(tok, s + i, (int)(n - i));
	int ret = -EPROTO;
	/* One whole object and nothing after it but blanks. */
	if (o && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(o, json_type_object)) {
		size_t end = i + (size_t)json_tokener_get_parse_end(tok);
		while (end < n && (s[end] == ' ' || s[end] == '\t' || s[end] == '\r'))
			end++;
		if (end == n)
			ret = parse_object(o, out);
	}
	if (ret)
		memset(out, 0, sizeof(*out));
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}
