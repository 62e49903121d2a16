/*
 * The JSON lines dirtyscope writes (--json), read back with a real parser
 * (json-c, a test-only dependency: link PkgConfig::JSONC) and checked field
 * by field with CUnit assertions, so a test states what a field holds rather
 * than what the text looks like.
 *
 *	struct ds_jsonl j;
 *	DS_JSONL_PARSE(&j, p.cmd, p.out);	  every line one JSON object
 *	struct json_object *sum = DS_JSONL_SUMMARY(&j);
 *	DS_JSON_INT_EQ(sum, "epochs", 2);
 *	ds_jsonl_free(&j);
 *
 * Every helper accepts a NULL object (what a failed lookup returns) and then
 * fails its check, so a chain of checks never crashes.  Failures name the
 * field and quote the object.
 */
#ifndef TESTS_DS_JSON_H
#define TESTS_DS_JSON_H

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tests/lib/ds_test.h"

struct ds_jsonl {
	char what[256];		  /* the command or file, for messages */
	struct json_object **obj; /* one object per line, in order */
	size_t n;
};

/* The start of o's text, for failure messages (json-c owns the string). */
static inline const char *ds_json_text(struct json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE)
		 : "(no object)";
}

/*
 * Parse text, which must be lines each holding exactly one JSON object (no
 * blank lines, nothing after the object, the last line ended by a newline),
 * into j.  Parsing is strict (JSON_TOKENER_STRICT: no trailing commas,
 * single quotes and the like).  Returns true when every line parsed; j holds
 * the objects that did, and is freed with ds_jsonl_free either way.
 * (json-c 0.16's strict mode still takes single-quoted strings, and a
 * repeated key keeps its last value: neither is checked here.)
 */
#define DS_JSONL_PARSE(j, what, text) ds_jsonl_parse((j), (what), (text), __FILE__, __LINE__)

static inline bool ds_jsonl_parse(struct ds_jsonl *j, const char *what, const char *text,
				  const char *file, unsigned int line)
{
	size_t lines = 0, len = text ? strlen(text) : 0;
	bool ok = true;

	memset(j, 0, sizeof(*j));
	snprintf(j->what, sizeof(j->what), "%.*s", (int)sizeof(j->what) - 1, what);
	if (!ds_check_at(text != NULL, file, line, "%s: no text to parse", j->what))
		return false;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	ok &= ds_check_at(len > 0 && text[len - 1] == '\n', file, line,
			  "%s: empty, or the last line is not ended: %.200s", j->what, text);
	j->obj = calloc(lines + 1, sizeof(*j->obj));
	if (!ds_check_at(j->obj != NULL, file, line, "%s: no memory", j->what))
		return false;
	struct json_tokener *tok = json_tokener_new();
	if (!ds_check_at(tok != NULL, file, line, "%s: no memory", j->what))
		return false;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		size_t no = j->n + 1;

		json_tokener_reset(tok);
		struct json_object *o = json_tokener_parse_ex(tok, l, (int)n);
		enum json_tokener_error err = json_tokener_get_error(tok);
		if (!o && err == json_tokener_continue)
			err = json_tokener_error_parse_eof; /* the line ended mid-value */
		if (!ds_check_at(o != NULL && err == json_tokener_success, file, line,
				 "%s: line %zu is not JSON (%s): %.200s", j->what, no,
				 json_tokener_error_desc(err), l) ||
		    !ds_check_at(json_tokener_get_parse_end(tok) == n, file, line,
				 "%s: line %zu has text after its JSON value: %.200s", j->what, no,
				 l) ||
		    !ds_check_at(json_object_is_type(o, json_type_object), file, line,
				 "%s: line %zu is not a JSON object: %.200s", j->what, no, l)) {
			json_object_put(o);
			ok = false;
			break;
		}
		j->obj[j->n++] = o;
		l += n + (nl != NULL);
	}
	json_tokener_free(tok);
	return ok;
}

/* Read the file at path whole and parse it as above. */
#define DS_JSONL_READ(j, path) ds_jsonl_read((j), (path), __FILE__, __LINE__)

static inline bool ds_jsonl_read(struct ds_jsonl *j, const char *path, const char *file,
				 unsigned int line)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	bool ok = false;

	memset(j, 0, sizeof(*j));
	if (!ds_check_at(f != NULL, file, line, "%s: cannot open it", path))
		return false;
	FILE *m = open_memstream(&text, &cap);
	if (m) {
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
		ok = ds_jsonl_parse(j, path, text, file, line);
	}
	ds_check_at(m != NULL, file, line, "%s: no memory", path);
	fclose(f);
	free(text);
	return ok;
}

static inline void ds_jsonl_free(struct ds_jsonl *j)
{
	for (size_t i = 0; i < j->n; i++)
		json_object_put(j->obj[i]);
	free(j->obj);
	j->obj = NULL;
	j->n = 0;
}

/* The nth (from 0) object holding key, or NULL. */
static inline struct json_object *ds_jsonl_find(const struct ds_jsonl *j, const char *key,
						size_t nth)
{
	for (size_t i = 0; i < j->n; i++)
		if (json_object_object_get_ex(j->obj[i], key, NULL) && nth-- == 0)
			return j->obj[i];
	return NULL;
}

/* How many objects hold key. */
static inline size_t ds_jsonl_count(const struct ds_jsonl *j, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < j->n; i++)
		n += json_object_object_get_ex(j->obj[i], key, NULL);
	return n;
}

/* o has field key: its value (NULL for JSON null) into *v; a failed check
 * naming the field if not. */
static inline bool ds_json_has(struct json_object *o, const char *key, struct json_object **v,
			       const char *file, unsigned int line)
{
	return ds_check_at(o && json_object_object_get_ex(o, key, v), file, line,
			   "no \"%s\" in %.600s", key, ds_json_text(o));
}

/* Field key of o, which must be there with JSON type `type`; or NULL. */
#define DS_JSON_GET(o, key, type) ds_json_get((o), (key), (type), __FILE__, __LINE__)

static inline struct json_object *ds_json_get(struct json_object *o, const char *key,
					      enum json_type type, const char *file,
					      unsigned int line)
{
	struct json_object *v = NULL;

	if (!ds_json_has(o, key, &v, file, line))
		return NULL;
	if (!ds_check_at(json_object_is_type(v, type), file, line,
			 "\"%s\" is %s, expected %s, in %.600s", key,
			 json_type_to_name(json_object_get_type(v)), json_type_to_name(type),
			 ds_json_text(o)))
		return NULL;
	return v;
}

/* An integer field (not a float, not a string): its value, or INT64_MIN. */
#define DS_JSON_INT(o, key) ds_json_int((o), (key), __FILE__, __LINE__)

static inline int64_t ds_json_int(struct json_object *o, const char *key, const char *file,
				  unsigned int line)
{
	struct json_object *v = ds_json_get(o, key, json_type_int, file, line);
	return v ? json_object_get_int64(v) : INT64_MIN;
}

/* A number, integer or not: its value, or NAN. */
#define DS_JSON_NUM(o, key) ds_json_num((o), (key), __FILE__, __LINE__)

static inline double ds_json_num(struct json_object *o, const char *key, const char *file,
				 unsigned int line)
{
	struct json_object *v = NULL;

	if (!ds_json_has(o, key, &v, file, line))
		return NAN;
	if (!ds_check_at(json_object_is_type(v, json_type_int) ||
			     json_object_is_type(v, json_type_double),
			 file, line, "\"%s\" is not a number in %.600s", key, ds_json_text(o)))
		return NAN;
	return json_object_get_double(v);
}

/*
 * Field key of o is there with want's JSON type and value: an integer, a
 * string, a boolean.  The message quotes both values as JSON: 5, "text",
 * true.
 */
#define DS_JSON_INT_EQ(o, key, want)                                                               \
	ds_json_eq((o), (key), json_object_new_int64(want), __FILE__, __LINE__)
#define DS_JSON_STR_EQ(o, key, want)                                                               \
	ds_json_eq((o), (key), json_object_new_string(want), __FILE__, __LINE__)
#define DS_JSON_BOOL_EQ(o, key, want)                                                              \
	ds_json_eq((o), (key), json_object_new_boolean(want), __FILE__, __LINE__)

/* What the three above call: want is a new object holding the expected
 * type and value, compared with json_object_equal and released here. */
static inline bool ds_json_eq(struct json_object *o, const char *key, struct json_object *want,
			      const char *file, unsigned int line)
{
	struct json_object *v = NULL;
	bool ok = ds_check_at(want != NULL, file, line, "\"%s\": no memory", key) &&
		  (v = ds_json_get(o, key, json_object_get_type(want), file, line)) &&
		  ds_check_at(json_object_equal(v, want), file, line,
			      "\"%s\" is %s, expected %s, in %.600s", key, ds_json_text(v),
			      ds_json_text(want), ds_json_text(o));

	json_object_put(want);
	return ok;
}

/* A field that is there and null (a figure not measured in this run). */
#define DS_JSON_NULL(o, key) ds_json_null((o), (key), __FILE__, __LINE__)

static inline bool ds_json_null(struct json_object *o, const char *key, const char *file,
				unsigned int line)
{
	struct json_object *v = NULL;

	/* json-c stores null as a NULL value: ds_json_get cannot tell it
	 * from a failed lookup. */
	return ds_json_has(o, key, &v, file, line) &&
	       ds_check_at(v == NULL, file, line, "\"%s\" is %s, expected null, in %.600s", key,
			   json_type_to_name(json_object_get_type(v)), ds_json_text(o));
}

/*
 * The summary: the last object, with "summary":true, and the only object
 * that has a "summary" field.  Returns it, or NULL.
 */
#define DS_JSONL_SUMMARY(j) ds_jsonl_summary((j), __FILE__, __LINE__)

static inline struct json_object *ds_jsonl_summary(const struct ds_jsonl *j, const char *file,
						   unsigned int line)
{
	struct json_object *last = j->n ? j->obj[j->n - 1] : NULL;

	if (!ds_check_at(last != NULL, file, line, "%s: no JSON objects", j->what))
		return NULL;
	if (!ds_json_eq(last, "summary", json_object_new_boolean(true), file, line))
		return NULL;
	if (!ds_check_at(ds_jsonl_count(j, "summary") == 1, file, line,
			 "%s: %zu objects have \"summary\", expected only the last", j->what,
			 ds_jsonl_count(j, "summary")))
		return NULL;
	return last;
}

/*
 * The per-epoch objects (those with an "epoch" field): numbered first,
 * first + 1, ... in the order written, every one before the summary.
 * Returns how many there are.
 */
#define DS_JSONL_EPOCHS(j, first) ds_jsonl_epochs((j), (first), __FILE__, __LINE__)

static inline size_t ds_jsonl_epochs(const struct ds_jsonl *j, int64_t first, const char *file,
				     unsigned int line)
{
	size_t n = 0;
	bool summary_seen = false;

	for (size_t i = 0; i < j->n; i++) {
		struct json_object *o = j->obj[i];
		summary_seen |= json_object_object_get_ex(o, "summary", NULL);
		if (!json_object_object_get_ex(o, "epoch", NULL))
			continue;
		ds_json_eq(o, "epoch", json_object_new_int64(first + (int64_t)n), file, line);
		ds_check_at(!summary_seen, file, line, "%s: epoch object after the summary: %.300s",
			    j->what, ds_json_text(o));
		n++;
	}
	return n;
}

/* The summary's integer field key equals the sum of it over the per-epoch
 * objects: the summary totals what the epochs reported. */
#define DS_JSONL_SUMS(j, key) ds_jsonl_sums((j), (key), __FILE__, __LINE__)

static inline bool ds_jsonl_sums(const struct ds_jsonl *j, const char *key, const char *file,
				 unsigned int line)
{
	int64_t sum = 0;
	struct json_object *s = NULL;

	for (size_t i = 0; i < j->n; i++) {
		struct json_object *o = j->obj[i];
		if (json_object_object_get_ex(o, "summary", NULL))
			s = o;
		else if (json_object_object_get_ex(o, "epoch", NULL)) {
			int64_t v = ds_json_int(o, key, file, line);
			if (v == INT64_MIN)
				return false; /* said so */
			sum += v;
		}
	}
	return ds_json_eq(s, key, json_object_new_int64(sum), file, line);
}

#endif
