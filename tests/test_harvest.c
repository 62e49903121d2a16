#include "tests/ds_test.h"
static const struct ds_case cases[] = {{NULL, NULL}};
int main(void) { return ds_run_suite("harvest", cases); }
