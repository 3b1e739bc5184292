/*
 * paths.h - where an installed program finds its data, and its version.
 *
 * The data folder (migrations, catalogue, org units, deadline rules) is
 * share/wardsync under the prefix the program was installed to, found from
 * the program's own path (/proc/self/exe), so a tree installed with
 * "make install PREFIX=..." or unpacked anywhere works as it lies.
 * WARDSYNC_DATA_DIR overrides it; a build tree sets it to BUILD/data (the
 * tests and scripts do), and nothing ever looks in the source tree by
 * itself.
 */
#ifndef WARDSYNC_PATHS_H
#define WARDSYNC_PATHS_H

#include <stddef.h>

/* Writes the data folder into out (capacity outlen): $WARDSYNC_DATA_DIR
 * when set and not empty, else the folder of the running executable joined
 * with the path from the install's bindir to its datadir/wardsync (fixed at
 * build time, "../share/wardsync" by default). Returns 0, -ENAMETOOLONG,
 * or the negative errno of reading /proc/self/exe. The folder is not
 * checked to exist: the file opened in it reports that. */
int ws_data_dir(char *out, size_t outlen);

/* Writes ws_data_dir() + "/" + rel into out. Returns 0 or a negative
 * errno as ws_data_dir. */
int ws_data_path(const char *rel, char *out, size_t outlen);

/* The folder of message catalogues (share/locale under the prefix, or
 * $WARDSYNC_LOCALE_DIR), for bindtextdomain. Returns 0 or a negative errno
 * as ws_data_dir. */
int ws_locale_dir(char *out, size_t outlen);

/* "0.1.0" or, built from a git checkout, git describe's "0.1.0-12-gabcdef0"
 * (the version of the project, one for every program). */
const char *ws_version(void);

/* Prints "PROGRAM (wardsync) VERSION" and the data folder to stdout: what
 * --version shows, and the first line help2man reads. */
void ws_print_version(const char *program);

#endif
