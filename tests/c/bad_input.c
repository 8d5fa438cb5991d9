/*
 * Bad input from C: every status code the C ABI can return on Linux, each
 * provoked on purpose, and the handles' tags (a handle of the wrong kind, a
 * closed one, memory that is no handle).
 *
 *   bad_input DIR
 *
 * DIR is a scratch directory for shared runtime files. Prints one line per
 * check and "N passed, M failed"; exits 1 if any check failed.
 * tests/c_client.rs compiles and runs it, and checks that it names every
 * SLOTCAST_ERR_* code of the header except SLOTCAST_ERR_UNSUPPORTED (other
 * platforms only) and SLOTCAST_ERR_PANIC (a bug in slotcast), which the Rust
 * unit tests of src/ffi.rs cover.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slotcast.h"

static int passed, failed;

#define EXPECT(call, code) expect((call), (code), #call, __LINE__)
#define CHECK(cond) check_true((cond), #cond, __LINE__)

static void expect(int got, int want, const char *what, int line) {
    if (got == want) {
        passed++;
        printf("ok   %s == %s\n", what, slotcast_strerror(want));
    } else {
        failed++;
        char detail[512] = "";
        slotcast_last_error(detail, sizeof detail, NULL);
        printf("FAIL line %d: %s returned %d (%s: %s), expected %d (%s)\n", line, what, got, slotcast_strerror(got),
               detail, want, slotcast_strerror(want));
    }
}

static void check_true(int cond, const char *what, int line) {
    if (cond) {
        passed++;
        printf("ok   %s\n", what);
    } else {
        failed++;
        printf("FAIL line %d: %s\n", line, what);
    }
}

static slotcast_config config(void) {
    slotcast_config c;
    if (slotcast_config_default(&c) != SLOTCAST_OK) {
        abort();
    }
    return c;
}

static char paths[8][4096];

static const char *path_in(const char *dir, int i, const char *name) {
    snprintf(paths[i], sizeof paths[i], "%s/%s", dir, name);
    unlink(paths[i]);
    return paths[i];
}

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    if (!in || !out) {
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        fwrite(buf, 1, n, out);
    }
    fclose(in);
    fclose(out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    uint8_t payload[SLOTCAST_MAX_PAYLOAD + 1];
    memset(payload, 7, sizeof payload);

    /* ---- SLOTCAST_ERR_NULL: every required pointer ---- */
    slotcast_runtime *rt = NULL;
    EXPECT(slotcast_config_default(NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_new(NULL, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_create_shared(NULL, NULL, &rt), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_open(NULL, 0, &rt), SLOTCAST_ERR_NULL);
    CHECK(rt == NULL);
    EXPECT(slotcast_runtime_writer(NULL, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_writer_publish(NULL, 1, payload, 1, 0, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_reader_read(NULL, payload, 1, 0, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_close(NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_free(NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_writer_free(NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_reader_free(NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_last_error(NULL, 0, NULL), SLOTCAST_ERR_NULL);

    /* A small in-process runtime: ring of 4, one reader at most. */
    slotcast_config c = config();
    c.ring_capacity = 4;
    c.max_readers = 1;
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_OK);
    slotcast_writer *w = NULL;
    slotcast_reader *r = NULL;
    EXPECT(slotcast_runtime_writer(rt, &w), SLOTCAST_OK);
    EXPECT(slotcast_runtime_reader(rt, &r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_writer(rt, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_stats(rt, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_writer_publish(w, 1, NULL, 5, 0, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_writer_publish_batch(w, NULL, 3, 0, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_writer_publish_packed(w, 1, NULL, NULL, 3, 0, NULL), SLOTCAST_ERR_NULL);
    uint32_t two_lens[2] = {4, 4};
    EXPECT(slotcast_writer_publish_packed(w, 1, NULL, two_lens, 2, 0, NULL), SLOTCAST_ERR_NULL);
    slotcast_event_in null_data[2] = {{payload, 3, 1}, {NULL, 3, 1}};
    size_t published = 99;
    EXPECT(slotcast_writer_publish_batch(w, null_data, 2, 0, &published), SLOTCAST_ERR_NULL);
    CHECK(published == 0);
    EXPECT(slotcast_writer_published(w, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_reader_read(r, payload, 1, 0, NULL), SLOTCAST_ERR_NULL);
    slotcast_event_info info;
    EXPECT(slotcast_reader_read(r, NULL, 10, 0, &info), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_reader_borrow(r, 0, NULL), SLOTCAST_ERR_NULL);
    size_t count = 0;
    EXPECT(slotcast_reader_borrow_batch(r, NULL, 4, 0, &count), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_reader_lag(r, NULL), SLOTCAST_ERR_NULL);
    /* An empty payload needs no pointer. */
    EXPECT(slotcast_writer_publish(w, 1, NULL, 0, 0, NULL), SLOTCAST_OK);

    /* ---- SLOTCAST_ERR_EMPTY and SLOTCAST_ERR_TIMEOUT on the read side ---- */
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_OK);
    CHECK(info.len == 0 && info.sequence == 0);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_ERR_EMPTY);
    slotcast_event_view view;
    EXPECT(slotcast_reader_borrow(r, 0, &view), SLOTCAST_ERR_EMPTY);
    slotcast_event_view views[4];
    EXPECT(slotcast_reader_borrow_batch(r, views, 4, 0, &count), SLOTCAST_ERR_EMPTY);
    CHECK(count == 0);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 1000000 /* 1 ms */, &info), SLOTCAST_ERR_TIMEOUT);
    EXPECT(slotcast_reader_borrow(r, 1000000, &view), SLOTCAST_ERR_TIMEOUT);

    /* ---- SLOTCAST_ERR_INVALID_ARGUMENT ---- */
    EXPECT(slotcast_reader_borrow_batch(r, views, 0, 0, &count), SLOTCAST_ERR_INVALID_ARGUMENT);
    EXPECT(slotcast_reader_borrow_batch(r, (slotcast_event_view *)((char *)views + 1), 2, 0, &count),
           SLOTCAST_ERR_INVALID_ARGUMENT);
    EXPECT(slotcast_writer_publish_batch(w, (slotcast_event_in *)((char *)null_data + 1), 1, 0, NULL),
           SLOTCAST_ERR_INVALID_ARGUMENT);
    slotcast_runtime *scratch = (slotcast_runtime *)payload;
    EXPECT(slotcast_runtime_open("/dev/null", 0x80, &scratch), SLOTCAST_ERR_INVALID_ARGUMENT);
    CHECK(scratch == NULL); /* cleared on failure */

    /* ---- SLOTCAST_ERR_TOO_LARGE: single, pairs, packed; nothing published ---- */
    EXPECT(slotcast_writer_publish(w, 1, payload, SLOTCAST_MAX_PAYLOAD + 1, 0, NULL), SLOTCAST_ERR_TOO_LARGE);
    EXPECT(slotcast_writer_publish(w, 1, payload, (size_t)-1, 0, NULL), SLOTCAST_ERR_TOO_LARGE);
    slotcast_event_in big[2] = {{payload, 10, 1}, {payload, SLOTCAST_MAX_PAYLOAD + 1, 1}};
    published = 99;
    EXPECT(slotcast_writer_publish_batch(w, big, 2, 0, &published), SLOTCAST_ERR_TOO_LARGE);
    CHECK(published == 0);
    uint32_t big_lens[2] = {10, SLOTCAST_MAX_PAYLOAD + 1};
    EXPECT(slotcast_writer_publish_packed(w, 1, payload, big_lens, 2, 0, &published), SLOTCAST_ERR_TOO_LARGE);
    CHECK(published == 0);
    uint64_t n = 0;
    EXPECT(slotcast_writer_published(w, &n), SLOTCAST_OK);
    CHECK(n == 1); /* only the empty event */
    EXPECT(slotcast_writer_publish(w, 1, payload, SLOTCAST_MAX_PAYLOAD, 0, NULL), SLOTCAST_OK);

    /* ---- SLOTCAST_ERR_BUFFER_TOO_SMALL: nothing consumed, size reported ---- */
    EXPECT(slotcast_reader_read(r, payload, 10, 0, &info), SLOTCAST_ERR_BUFFER_TOO_SMALL);
    CHECK(info.len == SLOTCAST_MAX_PAYLOAD && info.sequence == 1);
    EXPECT(slotcast_reader_read(r, payload, SLOTCAST_MAX_PAYLOAD, 0, &info), SLOTCAST_OK);
    CHECK(info.len == SLOTCAST_MAX_PAYLOAD && info.sequence == 1 && payload[100] == 7);
    char tiny[4];
    size_t need = 0;
    EXPECT(slotcast_last_error(tiny, sizeof tiny, &need), SLOTCAST_ERR_BUFFER_TOO_SMALL);
    CHECK(need > sizeof tiny);

    /* ---- SLOTCAST_ERR_RING_FULL, then SLOTCAST_ERR_TIMEOUT on the write side ---- */
    for (int i = 0; i < 4; i++) {
        EXPECT(slotcast_writer_publish(w, 2, payload, 8, 0, NULL), SLOTCAST_OK);
    }
    EXPECT(slotcast_writer_publish(w, 2, payload, 8, 0, NULL), SLOTCAST_ERR_RING_FULL);
    EXPECT(slotcast_writer_publish(w, 2, payload, 8, 1000000, NULL), SLOTCAST_ERR_TIMEOUT);
    slotcast_event_in one[2] = {{payload, 8, 2}, {payload, 8, 2}};
    EXPECT(slotcast_writer_publish_batch(w, one, 2, 0, &published), SLOTCAST_ERR_RING_FULL);
    CHECK(published == 0);
    EXPECT(slotcast_writer_publish_batch(w, one, 2, 1000000, &published), SLOTCAST_ERR_TIMEOUT);
    uint64_t lag = 0;
    EXPECT(slotcast_reader_lag(r, &lag), SLOTCAST_OK);
    CHECK(lag == 4);
    /* Borrowing all four keeps them lent; the next call releases them. */
    EXPECT(slotcast_reader_borrow_batch(r, views, 4, 0, &count), SLOTCAST_OK);
    CHECK(count == 4 && views[3].sequence == 5 && views[0].len == 8 && views[0].data[0] == 7);
    EXPECT(slotcast_writer_publish(w, 2, payload, 8, 0, NULL), SLOTCAST_ERR_RING_FULL);
    EXPECT(slotcast_reader_borrow(r, 0, &view), SLOTCAST_ERR_EMPTY);
    EXPECT(slotcast_writer_publish(w, 2, payload, 8, 0, NULL), SLOTCAST_OK);

    /* ---- SLOTCAST_ERR_WRITER_TAKEN, SLOTCAST_ERR_TOO_MANY_READERS ---- */
    slotcast_writer *w2 = NULL;
    slotcast_reader *r2 = NULL;
    EXPECT(slotcast_runtime_writer(rt, &w2), SLOTCAST_ERR_WRITER_TAKEN);
    CHECK(w2 == NULL);
    EXPECT(slotcast_runtime_reader(rt, &r2), SLOTCAST_ERR_TOO_MANY_READERS);
    CHECK(r2 == NULL);

    /* ---- SLOTCAST_ERR_BAD_HANDLE: wrong kind, misaligned, not a handle ---- */
    EXPECT(slotcast_writer_publish((slotcast_writer *)r, 1, payload, 1, 0, NULL), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_reader_read((slotcast_reader *)w, payload, 1, 0, &info), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_runtime_writer((slotcast_runtime *)w, &w2), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_writer_close((slotcast_writer *)rt), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_reader_free((slotcast_reader *)w), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_writer_publish((slotcast_writer *)((char *)w + 1), 1, payload, 1, 0, NULL),
           SLOTCAST_ERR_BAD_HANDLE);
    uint64_t not_a_handle[8] = {0x1234, 0, 0, 0, 0, 0, 0, 0};
    EXPECT(slotcast_writer_publish((slotcast_writer *)not_a_handle, 1, payload, 1, 0, NULL), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_runtime_free((slotcast_runtime *)not_a_handle), SLOTCAST_ERR_BAD_HANDLE);

    /* ---- SLOTCAST_ERR_CLOSED: closed handles answer, free works once ---- */
    EXPECT(slotcast_writer_close(w), SLOTCAST_OK);
    EXPECT(slotcast_writer_publish(w, 1, payload, 1, 0, NULL), SLOTCAST_ERR_CLOSED);
    EXPECT(slotcast_writer_publish_batch(w, one, 1, 0, &published), SLOTCAST_ERR_CLOSED);
    EXPECT(slotcast_writer_close(w), SLOTCAST_ERR_CLOSED);
    EXPECT(slotcast_runtime_writer(rt, &w2), SLOTCAST_OK); /* the role came back */
    EXPECT(slotcast_reader_close(r), SLOTCAST_OK);
    EXPECT(slotcast_reader_borrow(r, 0, &view), SLOTCAST_ERR_CLOSED);
    EXPECT(slotcast_runtime_reader(rt, &r2), SLOTCAST_OK); /* the entry came back */
    EXPECT(slotcast_runtime_close(rt), SLOTCAST_OK);
    EXPECT(slotcast_runtime_stats(rt, NULL), SLOTCAST_ERR_NULL);
    slotcast_stats stats;
    EXPECT(slotcast_runtime_stats(rt, &stats), SLOTCAST_ERR_CLOSED);
    slotcast_reader *r3 = (slotcast_reader *)payload;
    EXPECT(slotcast_runtime_reader(rt, &r3), SLOTCAST_ERR_CLOSED);
    CHECK(r3 == NULL);
    /* Writer and reader outlive the closed runtime handle. */
    EXPECT(slotcast_writer_publish(w2, 3, payload, 5, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_reader_read(r2, payload, sizeof payload, 0, &info), SLOTCAST_OK);
    CHECK(info.event_type == 3 && info.len == 5);
    EXPECT(slotcast_writer_free(w), SLOTCAST_OK);
    EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);
    EXPECT(slotcast_writer_free(w2), SLOTCAST_OK);
    EXPECT(slotcast_reader_free(r2), SLOTCAST_OK);

    /* ---- SLOTCAST_ERR_POOL_FULL: two S slots, both unread (XS events are
       carried in the ring and need no slot) ---- */
    c = config();
    c.slots[0] = 0;
    c.slots[1] = 2;
    c.slots[2] = 0;
    c.slots[3] = 0;
    c.slots[4] = 0;
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_OK);
    EXPECT(slotcast_runtime_writer(rt, &w), SLOTCAST_OK);
    EXPECT(slotcast_runtime_reader(rt, &r), SLOTCAST_OK);
    EXPECT(slotcast_writer_publish(w, 1, payload, 100, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_writer_publish(w, 1, payload, 100, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_writer_publish(w, 1, payload, 100, 0, NULL), SLOTCAST_ERR_POOL_FULL);
    /* No class from M up has slots: too large for this runtime, not full. */
    EXPECT(slotcast_writer_publish(w, 1, payload, 257, 0, NULL), SLOTCAST_ERR_TOO_LARGE);
    EXPECT(slotcast_writer_publish(w, 1, payload, 257, SLOTCAST_WAIT_FOREVER, NULL), SLOTCAST_ERR_TOO_LARGE);
    uint32_t lens3[3] = {100, 101, 102};
    EXPECT(slotcast_writer_publish_packed(w, 1, payload, lens3, 3, 0, &published), SLOTCAST_ERR_POOL_FULL);
    CHECK(published == 0);
    EXPECT(slotcast_runtime_stats(rt, &stats), SLOTCAST_OK);
    CHECK(stats.published == 2 && stats.readers == 1 && stats.max_lag == 2 && stats.pools[1].slots == 2 &&
          stats.pools[1].in_ring == 2);
    /* An XS event needs no XS slot. */
    EXPECT(slotcast_writer_publish(w, 1, payload, 64, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
    /* Without readers every slot comes back as soon as the writer stores its
       cursor, which it does when the pool looks full: all three fit. */
    EXPECT(slotcast_writer_publish_packed(w, 1, payload, lens3, 3, 0, &published), SLOTCAST_OK);
    CHECK(published == 3);
    EXPECT(slotcast_writer_free(w), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);

    /* ---- SLOTCAST_ERR_INVALID_CONFIG ---- */
    c = config();
    c.ring_capacity = 1000;
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_ERR_INVALID_CONFIG);
    c = config();
    c.wait_strategy = 9;
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_ERR_INVALID_CONFIG);
    c = config();
    c.max_readers = 0;
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_ERR_INVALID_CONFIG);
    c = config();
    c.file_mode = 01000;
    EXPECT(slotcast_runtime_create_shared(path_in(dir, 0, "mode"), &c, &rt), SLOTCAST_ERR_INVALID_CONFIG);
    c = config();
    memset(c.slots, 0, sizeof c.slots);
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_ERR_INVALID_CONFIG);
    char detail[512];
    EXPECT(slotcast_last_error(detail, sizeof detail, NULL), SLOTCAST_OK);
    CHECK(strstr(detail, "0 slots") != NULL);

    /* ---- SLOTCAST_ERR_IO ---- */
    EXPECT(slotcast_runtime_create_shared("/nonexistent-dir/slotcast", NULL, &rt), SLOTCAST_ERR_IO);
    EXPECT(slotcast_runtime_open(path_in(dir, 1, "missing"), 0, &rt), SLOTCAST_ERR_IO);

    /* ---- SLOTCAST_ERR_BAD_FILE: short, foreign ---- */
    const char *bad = path_in(dir, 2, "bad");
    FILE *f = fopen(bad, "wb");
    fputs("not a slotcast arena", f);
    fclose(f);
    EXPECT(slotcast_runtime_open(bad, 0, &rt), SLOTCAST_ERR_BAD_FILE);
    EXPECT(slotcast_last_error(detail, sizeof detail, NULL), SLOTCAST_OK);
    CHECK(strstr(detail, "truncated") != NULL);
    /* An existing file is not overwritten. */
    EXPECT(slotcast_runtime_create_shared(bad, NULL, &rt), SLOTCAST_ERR_IO);
    unlink(bad);

    /* ---- SLOTCAST_ERR_TOO_MANY_PROCESSES, SLOTCAST_ERR_STALE ---- */
    c = config();
    c.max_processes = 1;
    c.ring_capacity = 64;
    const char *shared = path_in(dir, 3, "shared");
    EXPECT(slotcast_runtime_create_shared(shared, &c, &rt), SLOTCAST_OK);
    slotcast_runtime *again = NULL;
    EXPECT(slotcast_runtime_open(shared, 0, &again), SLOTCAST_ERR_TOO_MANY_PROCESSES);
    /* A copy of a live file has no live process: stale. */
    const char *copy = path_in(dir, 4, "copy");
    CHECK(copy_file(shared, copy) == 0);
    EXPECT(slotcast_runtime_open(copy, 0, &again), SLOTCAST_ERR_STALE);
    EXPECT(slotcast_runtime_open(copy, SLOTCAST_OPEN_RECOVER_STALE, &again), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(again), SLOTCAST_OK);
    CHECK(access(copy, F_OK) != 0); /* the last process out removed it */

    /* ---- SLOTCAST_ERR_CORRUPT: a published cursor a ring ahead ---- */
    EXPECT(slotcast_runtime_reader(rt, &r), SLOTCAST_OK);
    int fd = open(shared, O_RDWR);
    uint64_t absurd = (uint64_t)1 << 40;
    /* The published cursor is the first word of the header's third
     * 128-byte line (see src/layout.rs; pinned by the layout hash). */
    CHECK(fd >= 0 && pwrite(fd, &absurd, sizeof absurd, 256) == (ssize_t)sizeof absurd);
    close(fd);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_ERR_CORRUPT);
    EXPECT(slotcast_reader_borrow(r, 0, &view), SLOTCAST_ERR_CORRUPT);
    EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);
    CHECK(access(shared, F_OK) != 0);

    /* ---- SLOTCAST_ERR_FORKED: a forked child's handles stay its parent's ---- */
    const char *forked = path_in(dir, 5, "forked");
    EXPECT(slotcast_runtime_create_shared(forked, NULL, &rt), SLOTCAST_OK);
    EXPECT(slotcast_runtime_reader(rt, &r), SLOTCAST_OK);
    slotcast_writer *fw = NULL;
    EXPECT(slotcast_runtime_writer(rt, &fw), SLOTCAST_OK);
    pid_t child = fork();
    if (child == 0) {
        /* The child: every use is refused, closing touches nothing shared. */
        slotcast_writer *w2 = NULL;
        slotcast_reader *r2 = NULL;
        int ok = 1;
#define CHILD_EXPECT(call, code) ok = ok && (call) == (code)
        CHILD_EXPECT(slotcast_runtime_writer(rt, &w2), SLOTCAST_ERR_FORKED);
        CHILD_EXPECT(slotcast_runtime_reader(rt, &r2), SLOTCAST_ERR_FORKED);
        CHILD_EXPECT(slotcast_writer_publish(fw, 1, "x", 1, 0, NULL), SLOTCAST_ERR_FORKED);
        CHILD_EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_ERR_FORKED);
        CHILD_EXPECT(slotcast_writer_free(fw), SLOTCAST_OK);
        CHILD_EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
        CHILD_EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);
#undef CHILD_EXPECT
        _exit(ok ? 0 : 1);
    }
    int child_status = -1;
    CHECK(child > 0 && waitpid(child, &child_status, 0) == child);
    CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0);
    EXPECT(slotcast_writer_publish(fw, 1, "y", 1, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_OK);
    CHECK(access(forked, F_OK) == 0); /* the child removed nothing */
    EXPECT(slotcast_writer_free(fw), SLOTCAST_OK);
    EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);

    /* ---- Reader flags; SLOTCAST_ERR_LAGGED: a lossy reader lapped ---- */
    c = config();
    c.ring_capacity = 4;
    EXPECT(slotcast_runtime_new(&c, &rt), SLOTCAST_OK);
    r = (slotcast_reader *)payload;
    EXPECT(slotcast_runtime_reader_with(rt, 4, &r), SLOTCAST_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL); /* cleared on failure */
    EXPECT(slotcast_runtime_reader_with(rt, SLOTCAST_READER_LOSSY, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_reader_with(NULL, 0, &r), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_runtime_reader_with((slotcast_runtime *)not_a_handle, 0, &r), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_runtime_reader_with(rt, SLOTCAST_READER_LOSSY, &r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_writer(rt, &w), SLOTCAST_OK);
    /* Three rings' worth without waiting: the lossy reader holds nothing. */
    for (int i = 0; i < 12; i++) {
        EXPECT(slotcast_writer_publish(w, 4, payload, 8, 0, NULL), SLOTCAST_OK);
    }
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_ERR_LAGGED);
    EXPECT(slotcast_last_error(detail, sizeof detail, NULL), SLOTCAST_OK);
    uint64_t lost = 0;
    EXPECT(slotcast_reader_lost(r, NULL), SLOTCAST_ERR_NULL);
    EXPECT(slotcast_reader_lost((slotcast_reader *)w, &lost), SLOTCAST_ERR_BAD_HANDLE);
    EXPECT(slotcast_reader_lost(r, &lost), SLOTCAST_OK);
    CHECK(lost > 0 && lost < 12);
    char lapped[128];
    snprintf(lapped, sizeof lapped, ": %llu events were lost", (unsigned long long)lost);
    CHECK(strstr(detail, lapped) != NULL); /* the count, in the message */
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_OK);
    uint64_t received = 1;
    while (slotcast_reader_read(r, payload, sizeof payload, 0, &info) == SLOTCAST_OK) {
        received++;
    }
    CHECK(received + lost == 12);

    /* ---- SLOTCAST_ERR_STREAM_CLOSED: the writer closed, the reader drained ---- */
    EXPECT(slotcast_writer_publish(w, 4, payload, 8, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_writer_close(w), SLOTCAST_OK);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, SLOTCAST_WAIT_FOREVER, &info), SLOTCAST_OK);
    CHECK(info.sequence == 12);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, SLOTCAST_WAIT_FOREVER, &info), SLOTCAST_ERR_STREAM_CLOSED);
    EXPECT(slotcast_reader_borrow(r, 0, &view), SLOTCAST_ERR_STREAM_CLOSED);
    EXPECT(slotcast_writer_free(w), SLOTCAST_OK);
    EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);

    /* ---- SLOTCAST_ERR_WRITER_DEAD: the writer's process exits without closing ---- */
    const char *dead = path_in(dir, 6, "dead");
    EXPECT(slotcast_runtime_create_shared(dead, NULL, &rt), SLOTCAST_OK);
    EXPECT(slotcast_runtime_reader(rt, &r), SLOTCAST_OK);
    child = fork();
    if (child == 0) {
        /* A process of its own, which opens the file and dies holding the role. */
        slotcast_runtime *crt = NULL;
        slotcast_writer *cw = NULL;
        int ok = slotcast_runtime_open(dead, 0, &crt) == SLOTCAST_OK && slotcast_runtime_writer(crt, &cw) == SLOTCAST_OK &&
                 slotcast_writer_publish(cw, 5, "last", 4, 0, NULL) == SLOTCAST_OK;
        _exit(ok ? 0 : 1);
    }
    CHECK(child > 0 && waitpid(child, &child_status, 0) == child);
    CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 5000000000ull, &info), SLOTCAST_OK);
    CHECK(info.event_type == 5 && info.len == 4);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 5000000000ull, &info), SLOTCAST_ERR_WRITER_DEAD);
    /* A new writer takes the role over: reading goes on. */
    EXPECT(slotcast_runtime_writer(rt, &w), SLOTCAST_OK);
    EXPECT(slotcast_writer_publish(w, 6, "next", 4, 0, NULL), SLOTCAST_OK);
    EXPECT(slotcast_reader_read(r, payload, sizeof payload, 0, &info), SLOTCAST_OK);
    CHECK(info.event_type == 6 && info.sequence == 1);
    EXPECT(slotcast_writer_free(w), SLOTCAST_OK);
    EXPECT(slotcast_reader_free(r), SLOTCAST_OK);
    EXPECT(slotcast_runtime_free(rt), SLOTCAST_OK);

    /* ---- Codes that cannot be provoked here have messages all the same ---- */
    CHECK(strcmp(slotcast_strerror(SLOTCAST_ERR_UNSUPPORTED), slotcast_strerror(SLOTCAST_ERR_PANIC)) != 0);
    CHECK(strcmp(slotcast_strerror(12345), "unknown status code") == 0);
    CHECK(strcmp(slotcast_strerror(SLOTCAST_OK), "success") == 0);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
