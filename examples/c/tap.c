/*
 * A monitoring tap in C: a lossy reader of a shared slotcast runtime, which
 * never slows the writer it watches.
 *
 *   tap PATH [--from-oldest]
 *
 * Opens the runtime another process created at PATH and joins as a lossy
 * reader (from the oldest event the ring still holds with --from-oldest,
 * else from the next one published). Prints one line per event
 * ("<sequence> type <type> len <bytes>"), a line per lap ("LAGGED <n>"),
 * and when the writer closes the stream "CLOSED <events> lost <n>", then
 * exits 0. If the writer's process dies, it says "WRITER DEAD" once and
 * waits for a new writer.
 *
 * Build (see tests/c_client.rs, which does exactly this):
 *   cargo build --release -p slotcast-capi
 *   cc -O2 -Iinclude examples/c/tap.c -Ltarget/release -lslotcast \
 *      -Wl,-rpath,$PWD/target/release -o tap
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "slotcast.h"

static int fail(int rc, const char *what) {
    char detail[512] = "";
    slotcast_last_error(detail, sizeof detail, NULL);
    fprintf(stderr, "tap: %s failed: %s (%d): %s\n", what, slotcast_strerror(rc), rc, detail);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH [--from-oldest]\n", argv[0]);
        return 2;
    }
    uint32_t flags = SLOTCAST_READER_LOSSY;
    if (argc > 2 && strcmp(argv[2], "--from-oldest") == 0) {
        flags |= SLOTCAST_READER_FROM_OLDEST;
    }
    slotcast_runtime *rt = NULL;
    int rc = slotcast_runtime_open(argv[1], 0, &rt);
    if (rc != SLOTCAST_OK) {
        return fail(rc, "slotcast_runtime_open");
    }
    slotcast_reader *r = NULL;
    rc = slotcast_runtime_reader_with(rt, flags, &r);
    if (rc != SLOTCAST_OK) {
        return fail(rc, "slotcast_runtime_reader_with");
    }
    /* Views of a lossy reader are its own copies: holding one between calls
       holds nothing of the writer's. */
    slotcast_event_view views[64];
    unsigned long long events = 0;
    int dead = 0;
    for (;;) {
        size_t n = 0;
        rc = slotcast_reader_borrow_batch(r, views, 64, SLOTCAST_WAIT_FOREVER, &n);
        for (size_t i = 0; i < n; i++) {
            printf("%llu type %u len %u\n", (unsigned long long)views[i].sequence, views[i].event_type,
                   views[i].len);
        }
        events += n;
        if (rc == SLOTCAST_OK) {
            dead = 0;
            continue;
        }
        if (rc == SLOTCAST_ERR_LAGGED) {
            char detail[256] = "";
            slotcast_last_error(detail, sizeof detail, NULL);
            const char *colon = strrchr(detail, ':');
            printf("LAGGED%s\n", colon ? colon + 1 : "");
            continue;
        }
        if (rc == SLOTCAST_ERR_WRITER_DEAD) {
            if (!dead) {
                printf("WRITER DEAD\n");
                fflush(stdout);
            }
            dead = 1;
            struct timespec nap = {0, 10000000}; /* until a new writer opens the stream */
            nanosleep(&nap, NULL);
            continue;
        }
        if (rc == SLOTCAST_ERR_STREAM_CLOSED) {
            break;
        }
        return fail(rc, "slotcast_reader_borrow_batch");
    }
    uint64_t lost = 0;
    rc = slotcast_reader_lost(r, &lost);
    if (rc != SLOTCAST_OK) {
        return fail(rc, "slotcast_reader_lost");
    }
    printf("CLOSED %llu lost %llu\n", events, (unsigned long long)lost);
    slotcast_reader_free(r);
    slotcast_runtime_free(rt);
    return 0;
}
