/* The human table and the JSON-lines output (docs/cli.md, "JSON lines"). */
#ifndef LOGGER_OUTPUT_H
#define LOGGER_OUTPUT_H

#include "logger/epoch.h"

/* A live table on f, one row per epoch, flushed as it is printed. */
void output_table_sink(struct sink *s, FILE *f);

/* One JSON object per epoch on f, then a summary object. */
void output_json_sink(struct sink *s, FILE *f);

#endif
