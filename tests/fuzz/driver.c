/* driver.c — runs one libFuzzer-style target without libFuzzer (gcc has none; clang is not
 * installed here): every seed, then N deterministic mutations of them, each input in its own
 * exact-size heap block so AddressSanitizer sees any read past its end. Built with
 * -fsanitize=address,undefined by `make unit`; a crash or sanitizer report fails the run
 * and the input that caused it is written to fuzz-crash-<target>.bin.
 * Usage: fuzz_x [iterations] [--write-seeds DIR]   (FUZZ_ITERATIONS overrides the default)
 */
#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ITERATIONS 200000
#define MAX_SEEDS 256
#define MAX_INPUT (256 * 1024)

static uint8_t *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t n_seeds;
static const char *write_dir;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t below(size_t n)
{
    return n ? (size_t)(next_random() % n) : 0;
}

static void add_seed(const uint8_t *data, size_t size)
{
    if (n_seeds == MAX_SEEDS)
        return;
    seeds[n_seeds] = malloc(size ? size : 1);
    memcpy(seeds[n_seeds], data, size);
    seed_len[n_seeds++] = size;
    if (write_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%03zu", write_dir, n_seeds);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(data, 1, size, f);
            fclose(f);
        }
    }
}

static const uint8_t *current;
static size_t current_len;
static const char *target_name = "target";

/* A sanitizer is about to end the process: keep the input that did it. */
static void save_crash(void)
{
    char path[256];
    snprintf(path, sizeof path, "fuzz-crash-%s.bin", target_name);
    FILE *f = fopen(path, "wb");
    if (f && current) {
        fwrite(current, 1, current_len, f);
        fclose(f);
        fprintf(stderr, "fuzz: the failing input is in %s (%zu bytes)\n", path, current_len);
    }
}

/* Runs the target on an exact-size copy (so one byte past the end is a heap overflow). */
static void run(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    current = data;
    current_len = size;
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

static const uint32_t interesting[] = { 0, 1, 2, 3, 4, 7, 8, 12, 16, 64, 100, 127, 128, 255,
                                        256, 1000, 4096, 65535, 65536, 0x7fffffff, 0x80000000,
                                        0xfffffffe, 0xffffffff };

/* One random edit of buf (len bytes, room for MAX_INPUT); returns the new length. */
static size_t mutate_once(uint8_t *buf, size_t len)
{
    size_t at = below(len);
    switch (below(8)) {
    case 0:     /* flip a bit */
        if (len)
            buf[at] ^= (uint8_t)(1u << below(8));
        return len;
    case 1:     /* a random byte */
        if (len)
            buf[at] = (uint8_t)next_random();
        return len;
    case 2: {   /* an interesting little-endian u32 (lengths, counts) */
        uint32_t v = interesting[below(sizeof interesting / sizeof interesting[0])];
        if (len >= 4) {
            at = below(len - 3);
            memcpy(buf + at, &v, 4);
        }
        return len;
    }
    case 3: {   /* insert random bytes */
        size_t n = 1 + below(16);
        if (len + n > MAX_INPUT)
            return len;
        memmove(buf + at + n, buf + at, len - at);
        for (size_t i = 0; i < n; i++)
            buf[at + i] = (uint8_t)next_random();
        return len + n;
    }
    case 4: {   /* delete a range */
        size_t n = below(len - at + 1);
        memmove(buf + at, buf + at + n, len - at - n);
        return len - n;
    }
    case 5: {   /* duplicate a range */
        size_t n = below(len - at + 1);
        if (len + n > MAX_INPUT)
            return len;
        memmove(buf + at + n, buf + at, len - at);
        return len + n;
    }
    case 6:     /* truncate */
        return below(len + 1);
    default: {  /* splice in part of another seed */
        size_t s = below(n_seeds), from = below(seed_len[s]), n = below(seed_len[s] - from + 1);
        if (at + n > MAX_INPUT)
            return len;
        memcpy(buf + at, seeds[s] + from, n);
        return at + n > len ? at + n : len;
    }
    }
}

int main(int argc, char **argv)
{
    long iterations = getenv("FUZZ_ITERATIONS") ? atol(getenv("FUZZ_ITERATIONS")) : DEFAULT_ITERATIONS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc)
            write_dir = argv[++i];
        else
            iterations = atol(argv[i]);
    }
    const char *slash = strrchr(argv[0], '/');
    target_name = slash ? slash + 1 : argv[0];
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_set_death_callback(save_crash);
#else
    (void)save_crash;
#endif
    fuzz_seeds(add_seed);
    if (write_dir)
        return 0;
    if (n_seeds == 0) {
        fprintf(stderr, "%s: no seeds\n", argv[0]);
        return 1;
    }
    for (size_t i = 0; i < n_seeds; i++)
        run(seeds[i], seed_len[i]);
    uint8_t *buf = malloc(MAX_INPUT);
    for (long it = 0; it < iterations; it++) {
        size_t s = below(n_seeds), len = seed_len[s];
        memcpy(buf, seeds[s], len);
        for (size_t edits = 1 + below(4); edits > 0; edits--)
            len = mutate_once(buf, len);
        run(buf, len);
    }
    free(buf);
    printf("%s: %zu seeds + %ld mutations, no failure\n", argv[0], n_seeds, iterations);
    return 0;
}
