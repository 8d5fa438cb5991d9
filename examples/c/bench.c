/*
 * Ingest throughput from C: events/s into an in-process runtime with no
 * reader (so only the cost of publishing is measured), for one event per
 * call, batches of pointer/length pairs, packed batches, and one writer
 * handle shared by two threads (its lock serialises them).
 *
 *   bench SIZE [SECONDS [ROUNDS]]
 *
 * Prints "<case> <size> <events/s>" lines, the best of ROUNDS (default 3)
 * rounds of SECONDS (default 0.3) each. examples/ffi_ingest.rs builds and runs it next
 * to the Rust and Python figures.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slotcast.h"

#define BATCH 32

static size_t size;
static double seconds = 0.3;
static int rounds = 3;
static uint8_t payload[SLOTCAST_MAX_PAYLOAD * BATCH];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what) {
    if (rc != SLOTCAST_OK) {
        fprintf(stderr, "bench: %s: %s\n", what, slotcast_strerror(rc));
        exit(1);
    }
}

typedef uint64_t (*round_fn)(slotcast_writer *w, double until);

/* One event per call, until the deadline; returns events published. */
static uint64_t single(slotcast_writer *w, double until) {
    uint64_t n = 0;
    while (now() < until) {
        for (int i = 0; i < 1024; i++) {
            check(slotcast_writer_publish(w, 1, payload, size, SLOTCAST_WAIT_FOREVER, NULL), "publish");
        }
        n += 1024;
    }
    return n;
}

static uint64_t pairs(slotcast_writer *w, double until) {
    slotcast_event_in events[BATCH];
    for (int i = 0; i < BATCH; i++) {
        events[i].data = payload + (size_t)i * size;
        events[i].len = size;
        events[i].event_type = 1;
    }
    uint64_t n = 0;
    size_t done;
    while (now() < until) {
        for (int i = 0; i < 32; i++) {
            check(slotcast_writer_publish_batch(w, events, BATCH, SLOTCAST_WAIT_FOREVER, &done), "publish_batch");
        }
        n += 32 * BATCH;
    }
    return n;
}

static uint64_t packed(slotcast_writer *w, double until) {
    uint32_t lens[BATCH];
    for (int i = 0; i < BATCH; i++) {
        lens[i] = (uint32_t)size;
    }
    uint64_t n = 0;
    size_t done;
    while (now() < until) {
        for (int i = 0; i < 32; i++) {
            check(slotcast_writer_publish_packed(w, 1, payload, lens, BATCH, SLOTCAST_WAIT_FOREVER, &done),
                  "publish_packed");
        }
        n += 32 * BATCH;
    }
    return n;
}

struct shared_arg {
    slotcast_writer *w;
    double until;
    uint64_t n;
};

static void *single_thread(void *p) {
    struct shared_arg *a = p;
    a->n = single(a->w, a->until);
    return NULL;
}

/* Two threads publishing through one writer handle at once. */
static uint64_t two_threads(slotcast_writer *w, double until) {
    pthread_t t[2];
    struct shared_arg a[2] = {{w, until, 0}, {w, until, 0}};
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, single_thread, &a[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    return a[0].n + a[1].n;
}

static double measure(round_fn f) {
    double best = 0;
    for (int round = 0; round < rounds; round++) {
        slotcast_runtime *rt;
        slotcast_writer *w;
        check(slotcast_runtime_new(NULL, &rt), "runtime");
        check(slotcast_runtime_writer(rt, &w), "writer");
        double start = now();
        uint64_t n = f(w, start + seconds);
        double rate = (double)n / (now() - start);
        best = rate > best ? rate : best;
        check(slotcast_writer_free(w), "free");
        check(slotcast_runtime_free(rt), "free");
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SIZE [SECONDS]\n", argv[0]);
        return 2;
    }
    size = (size_t)atoi(argv[1]);
    if (argc > 2) {
        seconds = atof(argv[2]);
    }
    if (argc > 3) {
        rounds = atoi(argv[3]);
    }
    if (size > SLOTCAST_MAX_PAYLOAD) {
        return 2;
    }
    memset(payload, 0xab, sizeof payload);
    printf("c-single %zu %.0f\n", size, measure(single));
    printf("c-batch-pairs %zu %.0f\n", size, measure(pairs));
    printf("c-batch-packed %zu %.0f\n", size, measure(packed));
    printf("c-single-2-threads %zu %.0f\n", size, measure(two_threads));
    return 0;
}
