/*
 * Reader policies and the stream's life from C, across processes: the C
 * half of the tests in tests/c_client.rs, which creates the shared runtime
 * at PATH, plays the other side and checks what this program prints.
 *
 *   policies tap PATH          a lossy reader: reads one event, prints
 *                              "STALLED <seq>", stops calling until a line
 *                              comes on stdin, then reads what is left and
 *                              prints "TAP <received> <lost> <lagged calls>"
 *   policies drain PATH        a gating reader: reads until the stream is
 *                              closed, prints "CLOSED <events>"
 *   policies dead PATH         a gating reader: reads until the writer is
 *                              dead ("DEAD <events>"), then on with the next
 *                              writer until it closes ("CLOSED <events>")
 *   policies oldest PATH       joins from the oldest event, gating then
 *                              lossy: "REPLAYED <first> <events>" for each
 *   policies write PATH START COUNT close|hang
 *                              takes the writer role, publishes events
 *                              START.. of the pattern, prints "PUBLISHED
 *                              <count>", then closes or waits to be killed
 *
 * Every event read is checked against examples/c/pattern.h and must come in
 * order; any surprise prints "FAIL ..." and exits 1. Readers print "JOINED"
 * once joined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pattern.h"
#include "slotcast.h"

/* A wait long enough that only a broken test reaches it. */
#define PATIENCE_NS 30000000000ull

static uint8_t buf[SLOTCAST_MAX_PAYLOAD];

static void fail(const char *what, int rc) {
    char detail[512] = "";
    slotcast_last_error(detail, sizeof detail, NULL);
    printf("FAIL %s: %s (%d): %s\n", what, slotcast_strerror(rc), rc, detail);
    fflush(stdout);
    exit(1);
}

static void must(int rc, const char *what) {
    if (rc != SLOTCAST_OK) {
        fail(what, rc);
    }
}

static void say(const char *fmt, unsigned long long a, unsigned long long b, unsigned long long c) {
    printf(fmt, a, b, c);
    fflush(stdout);
}

/* The event just read is event info->sequence of the pattern, and follows
   *next (if any is expected yet); moves *next past it. */
static void check_event(const slotcast_event_info *info, uint64_t *next, int expect_next) {
    uint64_t i = info->sequence;
    if (expect_next && i != *next) {
        printf("FAIL event %llu read where %llu was next\n", (unsigned long long)i, (unsigned long long)*next);
        exit(1);
    }
    static uint8_t want[SLOTCAST_MAX_PAYLOAD];
    size_t len = pattern_fill(i, want);
    if (info->len != len || info->event_type != pattern_type(i) || memcmp(buf, want, len) != 0) {
        printf("FAIL event %llu is not the pattern's (%u bytes, type %u)\n", (unsigned long long)i, info->len,
               info->event_type);
        exit(1);
    }
    *next = i + 1;
}

static slotcast_runtime *open_runtime(const char *path) {
    slotcast_runtime *rt = NULL;
    must(slotcast_runtime_open(path, 0, &rt), "slotcast_runtime_open");
    return rt;
}

static slotcast_reader *join(slotcast_runtime *rt, uint32_t flags) {
    slotcast_reader *r = NULL;
    must(slotcast_runtime_reader_with(rt, flags, &r), "slotcast_runtime_reader_with");
    return r;
}

static int tap(const char *path) {
    slotcast_runtime *rt = open_runtime(path);
    slotcast_reader *r = join(rt, SLOTCAST_READER_LOSSY);
    say("JOINED\n", 0, 0, 0);
    slotcast_event_info info;
    uint64_t next = 0;
    must(slotcast_reader_read(r, buf, sizeof buf, PATIENCE_NS, &info), "the first read");
    check_event(&info, &next, 0);
    uint64_t received = 1;
    say("STALLED %llu\n", info.sequence, 0, 0);
    /* The host stops calling: nothing of the reader holds the writer. */
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        printf("FAIL stdin closed\n");
        return 1;
    }
    uint64_t lagged = 0, reported = 0;
    for (;;) {
        int rc = slotcast_reader_read(r, buf, sizeof buf, 0, &info);
        if (rc == SLOTCAST_ERR_EMPTY) {
            break;
        }
        if (rc == SLOTCAST_ERR_LAGGED) {
            /* The count is in the message: "...: N events were lost". */
            char detail[512] = "";
            slotcast_last_error(detail, sizeof detail, NULL);
            const char *colon = strrchr(detail, ':');
            uint64_t missed = colon ? strtoull(colon + 1, NULL, 10) : 0;
            reported += missed;
            lagged++;
            /* Exactly the events missed are skipped. */
            next += missed;
            continue;
        }
        must(rc, "slotcast_reader_read");
        check_event(&info, &next, 1);
        received++;
    }
    uint64_t lost = 0;
    must(slotcast_reader_lost(r, &lost), "slotcast_reader_lost");
    if (lost != reported) {
        printf("FAIL lost %llu, the messages said %llu\n", (unsigned long long)lost, (unsigned long long)reported);
        return 1;
    }
    say("TAP %llu %llu %llu\n", received, lost, lagged);
    must(slotcast_reader_free(r), "slotcast_reader_free");
    must(slotcast_runtime_free(rt), "slotcast_runtime_free");
    return 0;
}

/* Reads in order until a read returns something else than an event: that
   code. */
static int read_on(slotcast_reader *r, uint64_t *next) {
    for (;;) {
        slotcast_event_info info;
        int rc = slotcast_reader_read(r, buf, sizeof buf, PATIENCE_NS, &info);
        if (rc != SLOTCAST_OK) {
            return rc;
        }
        check_event(&info, next, 1);
    }
}

static int drain(const char *path) {
    slotcast_runtime *rt = open_runtime(path);
    slotcast_reader *r = join(rt, 0);
    say("JOINED\n", 0, 0, 0);
    uint64_t next = 0;
    int rc = read_on(r, &next);
    if (rc != SLOTCAST_ERR_STREAM_CLOSED) {
        fail("reading to the close", rc);
    }
    say("CLOSED %llu\n", next, 0, 0);
    must(slotcast_reader_free(r), "slotcast_reader_free");
    must(slotcast_runtime_free(rt), "slotcast_runtime_free");
    return 0;
}

static int dead(const char *path) {
    slotcast_runtime *rt = open_runtime(path);
    slotcast_reader *r = join(rt, 0);
    say("JOINED\n", 0, 0, 0);
    uint64_t next = 0;
    int rc = read_on(r, &next);
    if (rc != SLOTCAST_ERR_WRITER_DEAD) {
        fail("reading until the writer dies", rc);
    }
    say("DEAD %llu\n", next, 0, 0);
    /* Told once per dead writer: the next reads wait for the writer that
       takes over, and end at its close (a second WRITER_DEAD fails). */
    rc = read_on(r, &next);
    if (rc != SLOTCAST_ERR_STREAM_CLOSED) {
        fail("reading from the new writer to its close", rc);
    }
    say("CLOSED %llu\n", next, 0, 0);
    must(slotcast_reader_free(r), "slotcast_reader_free");
    must(slotcast_runtime_free(rt), "slotcast_runtime_free");
    return 0;
}

static int oldest(const char *path) {
    slotcast_runtime *rt = open_runtime(path);
    uint32_t flags[2] = {SLOTCAST_READER_FROM_OLDEST, SLOTCAST_READER_FROM_OLDEST | SLOTCAST_READER_LOSSY};
    for (int k = 0; k < 2; k++) {
        slotcast_reader *r = join(rt, flags[k]);
        slotcast_event_info info;
        uint64_t next = 0, first = 0, events = 0;
        int rc;
        while ((rc = slotcast_reader_read(r, buf, sizeof buf, 0, &info)) == SLOTCAST_OK) {
            if (events == 0) {
                first = info.sequence;
            }
            check_event(&info, &next, events > 0);
            events++;
        }
        if (rc != SLOTCAST_ERR_EMPTY) {
            fail("replaying", rc);
        }
        say("REPLAYED %llu %llu\n", first, events, 0);
        must(slotcast_reader_free(r), "slotcast_reader_free");
    }
    must(slotcast_runtime_free(rt), "slotcast_runtime_free");
    return 0;
}

static int write_events(const char *path, uint64_t start, uint64_t count, int hang) {
    slotcast_runtime *rt = open_runtime(path);
    slotcast_writer *w = NULL;
    must(slotcast_runtime_writer(rt, &w), "slotcast_runtime_writer");
    for (uint64_t i = start; i < start + count; i++) {
        size_t len = pattern_fill(i, buf);
        uint64_t seq = 0;
        must(slotcast_writer_publish(w, pattern_type(i), buf, len, PATIENCE_NS, &seq), "slotcast_writer_publish");
        if (seq != i) {
            printf("FAIL event %llu got sequence %llu\n", (unsigned long long)i, (unsigned long long)seq);
            return 1;
        }
    }
    say("PUBLISHED %llu\n", count, 0, 0);
    if (hang) {
        /* Holding the role until killed. */
        for (;;) {
            pause();
        }
    }
    must(slotcast_writer_close(w), "slotcast_writer_close");
    must(slotcast_writer_free(w), "slotcast_writer_free");
    must(slotcast_runtime_free(rt), "slotcast_runtime_free");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s tap|drain|dead|oldest|write PATH ...\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *path = argv[2];
    if (strcmp(mode, "tap") == 0) {
        return tap(path);
    }
    if (strcmp(mode, "drain") == 0) {
        return drain(path);
    }
    if (strcmp(mode, "dead") == 0) {
        return dead(path);
    }
    if (strcmp(mode, "oldest") == 0) {
        return oldest(path);
    }
    if (strcmp(mode, "write") == 0 && argc == 6) {
        return write_events(path, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
                            strcmp(argv[5], "hang") == 0);
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
