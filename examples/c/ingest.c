/*
 * A C host pushing events into a shared slotcast runtime.
 *
 *   ingest PATH [EVENTS]
 *
 * Opens the runtime another process created at PATH, takes the writer role
 * and publishes EVENTS events (default 100000) of examples/c/pattern.h,
 * using the three ingest calls in turn, one block of 32 events each: one
 * event per call, a batch of pointer/length pairs, and a packed batch (one
 * buffer and its lengths). Waits for room whenever the readers lag. Prints
 * "DONE <events> <seconds>" and exits 0, or names the failed call and exits 1.
 *
 * Build (see tests/c_client.rs, which does exactly this):
 *   cargo build --release -p slotcast-capi
 *   cc -O2 -Iinclude examples/c/ingest.c -Ltarget/release -lslotcast \
 *      -Wl,-rpath,$PWD/target/release -o ingest
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "slotcast.h"
#include "pattern.h"

#define BLOCK 32

static int check(int rc, const char *what) {
    if (rc != SLOTCAST_OK) {
        char detail[512];
        if (slotcast_last_error(detail, sizeof detail, NULL) != SLOTCAST_OK) {
            detail[0] = '\0';
        }
        fprintf(stderr, "ingest: %s failed: %s (%d): %s\n", what, slotcast_strerror(rc), rc, detail);
        exit(1);
    }
    return rc;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH [EVENTS]\n", argv[0]);
        return 2;
    }
    uint64_t events = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;

    slotcast_runtime *rt = NULL;
    check(slotcast_runtime_open(argv[1], 0, &rt), "slotcast_runtime_open");
    slotcast_writer *w = NULL;
    check(slotcast_runtime_writer(rt, &w), "slotcast_runtime_writer");

    /* Room for one block: every event of it in its own buffer... */
    static uint8_t bufs[BLOCK][1000];
    slotcast_event_in pairs[BLOCK];
    /* ...or all of it back to back. */
    static uint8_t packed[BLOCK * 1000];
    uint32_t lens[BLOCK];

    double start = now();
    uint64_t i = 0;
    while (i < events) {
        uint64_t block = i / BLOCK;
        size_t n = events - i < BLOCK ? (size_t)(events - i) : BLOCK;
        size_t published = 0;
        switch (block % 3) {
        case 0: /* one event per call */
            for (size_t k = 0; k < n; k++) {
                uint64_t seq = 0;
                size_t len = pattern_fill(i + k, bufs[k]);
                check(slotcast_writer_publish(w, pattern_type(i + k), bufs[k], len, SLOTCAST_WAIT_FOREVER, &seq),
                      "slotcast_writer_publish");
                if (seq != i + k) {
                    fprintf(stderr, "ingest: event %llu got sequence %llu\n", (unsigned long long)(i + k),
                            (unsigned long long)seq);
                    return 1;
                }
            }
            break;
        case 1: /* a batch of pointer/length pairs */
            for (size_t k = 0; k < n; k++) {
                pairs[k].len = pattern_fill(i + k, bufs[k]);
                pairs[k].data = bufs[k];
                pairs[k].event_type = pattern_type(i + k);
            }
            check(slotcast_writer_publish_batch(w, pairs, n, SLOTCAST_WAIT_FOREVER, &published),
                  "slotcast_writer_publish_batch");
            break;
        default: { /* one buffer and the lengths; the block shares its type */
            size_t at = 0;
            for (size_t k = 0; k < n; k++) {
                lens[k] = (uint32_t)pattern_fill(i + k, packed + at);
                at += lens[k];
            }
            check(slotcast_writer_publish_packed(w, pattern_type(i), packed, lens, n, SLOTCAST_WAIT_FOREVER,
                                                 &published),
                  "slotcast_writer_publish_packed");
            break;
        }
        }
        if (block % 3 != 0 && published != n) {
            fprintf(stderr, "ingest: a batch published %zu of %zu events\n", published, n);
            return 1;
        }
        i += n;
    }
    double secs = now() - start;

    uint64_t total = 0;
    check(slotcast_writer_published(w, &total), "slotcast_writer_published");
    check(slotcast_writer_free(w), "slotcast_writer_free");
    check(slotcast_runtime_free(rt), "slotcast_runtime_free");
    printf("DONE %llu %.3f\n", (unsigned long long)total, secs);
    return total == events ? 0 : 1;
}
