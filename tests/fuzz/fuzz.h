/* fuzz.h — what each tests/fuzz/fuzz_*.c target provides: libFuzzer's entry point, and a
 * seed corpus built with the real encoders (so no binary files live in the repository).
 * The targets link with driver.c (gcc: seeds plus deterministic mutations) or with
 * libFuzzer (clang -fsanitize=fuzzer, `make fuzz`).
 */
#ifndef PW_FUZZ_H
#define PW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

typedef void (*fuzz_add_cb)(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Calls add() once per seed input. */
void fuzz_seeds(fuzz_add_cb add);

#endif
