/*
 * fuzz.h - shared by the libFuzzer targets and their replay driver.
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer (make fuzz) it is a libFuzzer binary; built with
 * replay_main.c (every build, "make test") it runs the corpus files given
 * on its command line once each, under the build's sanitizers.
 */
#ifndef WARDSYNC_FUZZ_H
#define WARDSYNC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to a scratch file private to this process and returns its
 * path (static storage), or NULL. For decoders that read files. */
const char *fuzz_scratch_file(const uint8_t *data, size_t size,
                              const char *suffix);

#endif
