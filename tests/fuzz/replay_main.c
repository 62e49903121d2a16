/*
 * The fuzz targets without libFuzzer: `TARGET PATH...` runs
 * LLVMFuzzerTestOneInput once on every file given, and on every regular
 * file in every directory given (in name order, so a failure is
 * reproducible).  The normal build (any compiler, sanitizers or not) links
 * each target with this file, so CTest replays the seeds and
 * tests/fuzz/regressions/<target>/ there too, not only in build-fuzz/.
 * A target reports a failure by aborting, as under libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the target on the file at path.  Returns 0, or -1 after a line. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st)) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	/* Exactly the file's length, so a read past the input is a sanitizer
	 * report here as under libFuzzer. */
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf || fread(buf, 1, len, f) != len) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int only_files(const struct dirent *d)
{
	/* Every file, dot files too, as libFuzzer reads a directory. */
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

int main(int argc, char **argv)
{
	int runs = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]))
				return 1;
			runs++;
			continue;
		}
		struct dirent **names;
		int n = scandir(argv[i], &names, only_files, alphasort);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			char path[4096];
			struct stat fst;
			snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
			if (!stat(path, &fst) && S_ISREG(fst.st_mode)) {
				if (replay_file(path))
					return 1;
				runs++;
			}
			free(names[k]);
		}
		free(names);
	}
	fprintf(stderr, "replay: %d inputs, no failure\n", runs);
	return 0;
}
