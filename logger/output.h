/* The human table and the JSON-lines output (see docs/json.md). */
#ifndef LOGGER_OUTPUT_H
#define LOGGER_OUTPUT_H

#include "logger/epoch.h"

/* A live table on f, one row per epoch, flushed as it is printed. */
void output_table_sink(struct sink *s, FILE *f);

/* One JSON object per epoch on f, then a summary object. */
void output_json_sink(struct sink *s, FILE *f);

/* Write s as a JSON string literal (quotes and escapes included). */
void output_json_string(FILE *f, const char *s);

struct migrate_stats;
struct migin_stats;

/* Live migration (logger/output_mig.c): the source's rounds and totals, the
 * destination's incoming figures, as JSON lines or table lines. */
void output_json_migration(FILE *f, const struct migrate_stats *m);
void output_json_incoming(FILE *f, const struct migin_stats *in, uint64_t first_epoch);
void output_table_migration(FILE *f, const struct migrate_stats *m);
void output_table_incoming(FILE *f, const struct migin_stats *in, uint64_t first_epoch);

#endif
