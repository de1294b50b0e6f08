/* What every fuzz target links besides its LLVMFuzzerTestOneInput: quiet platform hooks (the
 * image's console, panic and clock; a panic aborts, which the fuzzer reports as a crash) and,
 * when the compiler has no libFuzzer (gcc), a replay driver run as a ctest entry:
 *     TARGET CORPUS_DIR SECONDS MAX_LEN
 * replays every file of CORPUS_DIR, then feeds random inputs and corpus inputs with bits
 * flipped until SECONDS have passed. With clang the target is a real libFuzzer binary
 * (coverage-guided, ASan/UBSan): TARGET WORK_DIR CORPUS_DIR -max_total_time=N. */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/time.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void kvprintf(const char *fmt, va_list ap)
{
}

void kprintf(const char *fmt, ...)
{
}

void moat_panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "panic at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

int moat_trace_err(int err, const char *file, int line)
{
    return err;
}

uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#if !MOAT_LIBFUZZER
#define REPLAY_MAX_CORPUS 64
#define REPLAY_MAX_LEN 8192

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t corpus[REPLAY_MAX_CORPUS][REPLAY_MAX_LEN];
static size_t corpus_len[REPLAY_MAX_CORPUS];

static size_t replay_corpus(const char *dir, size_t max_len)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && n < REPLAY_MAX_CORPUS && (e = readdir(d));) {
        char path[1024];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        corpus_len[n] = fread(corpus[n], 1, max_len, f);
        fclose(f);
        LLVMFuzzerTestOneInput(corpus[n], corpus_len[n]);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* A corpus input with a few bits flipped and maybe a byte replaced, or random bytes. */
static size_t make_input(uint8_t *in, size_t max_len, size_t ncorpus)
{
    size_t len;
    if (ncorpus && next_rand() % 4) {
        size_t k = next_rand() % ncorpus;
        len = corpus_len[k];
        memcpy(in, corpus[k], len);
        for (int m = 0; m < 1 + (int)(next_rand() % 8) && len; m++)
            in[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
        if (len && next_rand() % 8 == 0)
            in[next_rand() % len] = (uint8_t)next_rand();
        return len;
    }
    len = next_rand() % (max_len + 1);
    for (size_t i = 0; i < len; i++)
        in[i] = (uint8_t)next_rand();
    return len;
}

int main(int argc, char **argv)
{
    static uint8_t in[REPLAY_MAX_LEN];
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    size_t max_len = argc > 3 ? (size_t)atol(argv[3]) : 512;
    if (max_len == 0 || max_len > REPLAY_MAX_LEN)
        max_len = REPLAY_MAX_LEN;
    size_t n = argc > 1 ? replay_corpus(argv[1], max_len) : 0;
    printf("replayed %zu corpus inputs\n", n);
    uint64_t end = clock_ns() + (uint64_t)(secs * 1e9);
    unsigned long runs = 0;
    while (clock_ns() < end) {
        LLVMFuzzerTestOneInput(in, make_input(in, max_len, n));
        runs++;
    }
    printf("%lu inputs in %.1f s: no crash\n", runs, secs);
    return 0;
}
#endif
