/*
 * slotcast: one writer, many readers, zero copies, zero allocations per event.
 *
 * The C ABI of the slotcast Rust library. GENERATED from src/ffi.rs by
 * cbindgen (see cbindgen.toml); do not edit: run
 * `SLOTCAST_BLESS=1 cargo test -p slotcast-capi --test header` after changing the Rust side.
 *
 * Link with libslotcast (cargo build --release -p slotcast-capi builds
 * target/release/libslotcast.so and libslotcast.a; the static library also
 * needs -lpthread -ldl -lm). Every function returns 0 (SLOTCAST_OK) or a
 * negative SLOTCAST_ERR_* code; slotcast_strerror() names it and
 * slotcast_last_error() gives the details. Thread safety: see the comment
 * of each function, and src/ffi.rs.
 */

#ifndef SLOTCAST_H
#define SLOTCAST_H

#include <stddef.h>
#include <stdint.h>

// Wait strategy: spin on the cursor (one busy core per waiting thread).
#define SLOTCAST_WAIT_BUSY_SPIN 0

// Wait strategy: spin briefly, then yield the CPU between checks.
#define SLOTCAST_WAIT_YIELD 1

// Wait strategy: spin, yield, then sleep on a futex word in the arena (the
// default; an idle reader uses no CPU).
#define SLOTCAST_WAIT_BLOCKING 2

// `slotcast_runtime_open` flag: open a file even if every process that
// used it is dead, releasing what they held.
#define SLOTCAST_OPEN_RECOVER_STALE 1

// `slotcast_runtime_reader_with` flag: a lossy reader. The writer never
// waits for it between its reads; when the writer laps it, its next read
// returns `SLOTCAST_ERR_LAGGED` (the count in `slotcast_last_error`, the
// total in `slotcast_reader_lost`) and reading goes on from the oldest
// event still available. Without it, the reader gates the writer: it never
// loses an event, and a reader that stops reading stops the writer when
// the ring is full.
#define SLOTCAST_READER_LOSSY 1

// `slotcast_runtime_reader_with` flag: start at the oldest event the ring
// still holds (a late joiner replays the window; events in pool slots are
// replayed only from the oldest one whose slot still holds it). Without
// it, the reader starts at the next event to be published.
#define SLOTCAST_READER_FROM_OLDEST 2

// Success.
#define SLOTCAST_OK 0

// A pointer argument that must not be null was null.
#define SLOTCAST_ERR_NULL -1

// The handle is not a live handle of the expected kind (a reader passed
// as a writer, a misaligned pointer, memory that is no slotcast handle).
#define SLOTCAST_ERR_BAD_HANDLE -2

// The handle was closed.
#define SLOTCAST_ERR_CLOSED -3

// A payload exceeds `SLOTCAST_MAX_PAYLOAD` (16384) bytes, or every size
// class that could hold it has 0 slots in this runtime's configuration.
#define SLOTCAST_ERR_TOO_LARGE -4

// The caller's buffer is too small; the required size was reported and
// nothing was consumed.
#define SLOTCAST_ERR_BUFFER_TOO_SMALL -5

// No event is available (a read that was asked not to wait).
#define SLOTCAST_ERR_EMPTY -6

// The ring is full: the slowest reader is a whole ring behind (a publish
// that was asked not to wait).
#define SLOTCAST_ERR_RING_FULL -7

// Every slot of the payload's size class is unread or retained (a publish
// that was asked not to wait).
#define SLOTCAST_ERR_POOL_FULL -8

// The timeout passed before an event arrived or room was made.
#define SLOTCAST_ERR_TIMEOUT -9

// Another writer holds the runtime's writer role.
#define SLOTCAST_ERR_WRITER_TAKEN -10

// Every reader entry of the runtime is in use.
#define SLOTCAST_ERR_TOO_MANY_READERS -11

// A configuration value is out of range (see `slotcast_last_error`).
#define SLOTCAST_ERR_INVALID_CONFIG -12

// An argument is out of range: unknown flag bits, a zero-length output
// array, a misaligned array.
#define SLOTCAST_ERR_INVALID_ARGUMENT -13

// The operating system refused: the file exists or is missing, permission
// denied, out of memory for the mapping (see `slotcast_last_error`).
#define SLOTCAST_ERR_IO -14

// The file is not a usable slotcast arena: truncated, foreign, another
// version or layout, inconsistent header, never initialised.
#define SLOTCAST_ERR_BAD_FILE -15

// Every process that used the file is dead; open it with
// `SLOTCAST_OPEN_RECOVER_STALE` to take it over.
#define SLOTCAST_ERR_STALE -16

// Every process entry of the shared runtime is in use.
#define SLOTCAST_ERR_TOO_MANY_PROCESSES -17

// A reader met a malformed event or an impossible cursor, or a writer or
// reader could not start from the file's cursors: only a corrupted shared
// mapping does that. A reader stays on the event.
#define SLOTCAST_ERR_CORRUPT -18

// Not supported on this platform (shared runtimes need Linux).
#define SLOTCAST_ERR_UNSUPPORTED -19

// A bug in slotcast: a panic was caught at the boundary. The handle it
// happened on answers every later call with this code; close and free it.
#define SLOTCAST_ERR_PANIC -20

// This process is a `fork` of the one that opened the shared runtime: the
// handles it inherited stay the parent's (closing them here touches nothing
// shared). Open the file again in the child.
#define SLOTCAST_ERR_FORKED -21

// A lossy reader was lapped: the writer reused events it had not read.
// Its cursor moved past them to the oldest event still available, where
// the next read goes on; the number missed is in `slotcast_last_error`'s
// message and is added to the reader's lost count.
#define SLOTCAST_ERR_LAGGED -22

// The writer closed the stream (or was closed or freed) and the reader has
// read every event published before. A new writer reopens the stream.
#define SLOTCAST_ERR_STREAM_CLOSED -23

// The writer's process died holding the role and the reader has read every
// event it published. Not a close: a new writer may take over, and reads
// then go on.
#define SLOTCAST_ERR_WRITER_DEAD -24

// The largest payload, in bytes (the XL size class).
#define SLOTCAST_MAX_PAYLOAD 16384

// Number of size classes: XS 64 B, S 256 B, M 1 KB, L 4 KB, XL 16 KB.
#define SLOTCAST_SIZE_CLASSES 5

// A timeout that never expires.
#define SLOTCAST_WAIT_FOREVER UINT64_MAX

// A reader handle (opaque): one reader of a runtime, seeing every event
// published while it is joined, in order (a lossy reader: every event the
// writer did not lap it past). Made by `slotcast_runtime_reader` or
// `slotcast_runtime_reader_with`; released by `slotcast_reader_close` and
// `slotcast_reader_free`.
typedef struct slotcast_reader slotcast_reader;

// A runtime handle (opaque). Made by `slotcast_runtime_new`,
// `slotcast_runtime_create_shared` or `slotcast_runtime_open`; released by
// `slotcast_runtime_close` and `slotcast_runtime_free`.
typedef struct slotcast_runtime slotcast_runtime;

// A writer handle (opaque): the runtime's one writer role. Made by
// `slotcast_runtime_writer`; released by `slotcast_writer_close` and
// `slotcast_writer_free`.
typedef struct slotcast_writer slotcast_writer;

// What `slotcast_reader_read` copied.
typedef struct slotcast_event_info {
    // The event's sequence number.
    uint64_t sequence;
    // Payload length (the size needed, after `SLOTCAST_ERR_BUFFER_TOO_SMALL`).
    uint32_t len;
    // The event's type tag.
    uint32_t event_type;
} slotcast_event_info;

// An event borrowed in place: `data[0..len]` is valid until the next call
// on the reader that lent it (and while the reader is open).
typedef struct slotcast_event_view {
    // The payload, in place (the ring entry for an event of up to 64
    // bytes, else its slot; for a lossy reader, the reader's own copy);
    // never null (a zero-length event points at its empty payload).
    const uint8_t *data;
    // The event's sequence number.
    uint64_t sequence;
    // Payload length.
    uint32_t len;
    // The event's type tag.
    uint32_t event_type;
} slotcast_event_view;

// The configuration of a new runtime. Fill it with
// `slotcast_config_default`, then change what you need.
typedef struct slotcast_config {
    // Slots per size class, XS (64 B), S (256 B), M (1 KB), L (4 KB), XL
    // (16 KB); 0 removes a class (XS events are carried in the ring all
    // the same). Default 2000, 1000, 300, 60, 15. XS
    // events are carried in the ring and take no slot; the XS pool serves
    // Rust readers that retain them and the allocator.
    uint32_t slots[SLOTCAST_SIZE_CLASSES];
    // Capacity of the descriptor ring: a power of two from 2 to 2^30; how
    // far the slowest reader may fall behind. Default 4096.
    uint32_t ring_capacity;
    // Readers joined at once, 1 to 4096. Default 16.
    uint32_t max_readers;
    // Processes using a shared runtime at once, 1 to 1024. Default 16.
    uint32_t max_processes;
    // `SLOTCAST_WAIT_BUSY_SPIN`, `SLOTCAST_WAIT_YIELD` or
    // `SLOTCAST_WAIT_BLOCKING` (the default).
    uint32_t wait_strategy;
    // Permission bits of a shared runtime's file, at most 0777; 0 means
    // 0600 (only the creating user). Ignored in process.
    uint32_t file_mode;
} slotcast_config;

// Statistics of one size class's pool.
typedef struct slotcast_pool_stats {
    // Slots in the pool.
    uint64_t slots;
    // Slots holding an event some reader has not read yet (0 for XS, whose
    // events are carried in the ring entry).
    uint64_t in_ring;
    // Slots held by retained pointers.
    uint64_t retained;
    // Slots in use: in the ring, retained, or both.
    uint64_t in_use;
} slotcast_pool_stats;

// A snapshot of a runtime's cursors and pools (consistent only while the
// writer and readers are quiet).
typedef struct slotcast_stats {
    // Events published so far (the next sequence number).
    uint64_t published;
    // Process id of the writer's process; 0 if no writer holds the role.
    uint64_t writer_pid;
    // Readers joined.
    uint64_t readers;
    // The largest lag of any reader, in events.
    uint64_t max_lag;
    // Processes using the runtime (1 in process).
    uint64_t processes;
    // One entry per size class, XS to XL.
    struct slotcast_pool_stats pools[SLOTCAST_SIZE_CLASSES];
} slotcast_stats;

// One event of `slotcast_writer_publish_batch`.
typedef struct slotcast_event_in {
    // The payload; may be null if `len` is 0.
    const void *data;
    // Payload length, at most `SLOTCAST_MAX_PAYLOAD`.
    size_t len;
    // The event's type tag.
    uint32_t event_type;
} slotcast_event_in;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// Copies the message describing the last failed call on the calling
// thread, NUL-terminated, into `buf` (`capacity` bytes), and its length
// without the NUL into `*len` (if `len` is not null). The message names
// details the code cannot: which configuration field, what is wrong with a
// file, the operating system's error. Empty if no call failed on this
// thread yet; not cleared by successful calls.
//
// Returns `SLOTCAST_ERR_BUFFER_TOO_SMALL` (with `*len` set) if `capacity`
// is not at least `*len + 1`.
//
// Thread safety: any thread, at any time; each thread has its own message.
//
// # Safety
//
// * `buf` is null or valid for writes of `capacity` bytes.
// * `len` is null or valid for a write of a `size_t`.
int slotcast_last_error(char *buf, size_t capacity, size_t *len);

// Copies the next event's payload into `buf` (`capacity` bytes) and its
// sequence, length and type into `*info`. `timeout_ns`: 0 does not wait,
// `SLOTCAST_WAIT_FOREVER` waits for an event as long as it takes.
//
// If the payload is longer than `capacity`, nothing is consumed: `*info`
// holds the event's length and the call returns
// `SLOTCAST_ERR_BUFFER_TOO_SMALL`, so the caller can retry with a larger
// buffer (`SLOTCAST_MAX_PAYLOAD` bytes always suffice).
//
// The stream's state, once every published event was read:
// `SLOTCAST_ERR_STREAM_CLOSED` (the writer closed it) or
// `SLOTCAST_ERR_WRITER_DEAD` (its process died), at once, whatever the
// timeout, and a waiting call returns with it as soon as it happens. A
// lossy reader the writer lapped gets `SLOTCAST_ERR_LAGGED` once (the
// count is in `slotcast_last_error` and added to `slotcast_reader_lost`);
// the next call reads on from the oldest event still available.
//
// Errors: `SLOTCAST_ERR_NULL` (`reader`, `info`, or `buf` with
// `capacity > 0`), `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`,
// `SLOTCAST_ERR_BUFFER_TOO_SMALL`, `SLOTCAST_ERR_EMPTY` (timeout 0),
// `SLOTCAST_ERR_TIMEOUT`, `SLOTCAST_ERR_CORRUPT`, `SLOTCAST_ERR_LAGGED`,
// `SLOTCAST_ERR_STREAM_CLOSED`, `SLOTCAST_ERR_WRITER_DEAD`.
//
// Thread safety: any thread, concurrently: calls on one reader are
// serialised by its lock, and each event goes to one call.
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed.
// * `buf` is null or valid for writes of `capacity` bytes.
// * `info` is valid for a write of a `slotcast_event_info` (null is
//   reported).
int slotcast_reader_read(struct slotcast_reader *reader, void *buf, size_t capacity, uint64_t timeout_ns, struct slotcast_event_info *info);

// Lends the next event in place: `*view` points at its payload in the
// slot, valid until the next call on this reader (from any thread) and
// while the reader is open. No copy and no atomic read-modify-write per
// event. `timeout_ns`, and the stream's state and laps, as in
// `slotcast_reader_read`.
//
// A lossy reader lends a copy it owns instead: the writer must not wait
// for a host that holds a view and stops calling, so the reader's pin
// ends inside the call.
//
// Errors: `SLOTCAST_ERR_NULL` (`reader`, `view`),
// `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_EMPTY`
// (timeout 0), `SLOTCAST_ERR_TIMEOUT`, `SLOTCAST_ERR_CORRUPT`,
// `SLOTCAST_ERR_LAGGED`, `SLOTCAST_ERR_STREAM_CLOSED`,
// `SLOTCAST_ERR_WRITER_DEAD`.
//
// Thread safety: any thread, concurrently (serialised by the reader's
// lock); the next call on the reader ends the loan, whichever thread
// makes it.
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed.
// * `view` is valid for a write of a `slotcast_event_view` (null is
//   reported).
int slotcast_reader_borrow(struct slotcast_reader *reader, uint64_t timeout_ns, struct slotcast_event_view *view);

// Lends up to `max` events in place, in order, into `views[0..*count]`:
// everything available now, waiting (as `timeout_ns` says) only for the
// first. The views are valid until the next call on this reader and while
// it is open; the reader's cursor moves past them (one store) on the next
// call. The stream's state and laps as in `slotcast_reader_read`.
//
// A lossy reader lends copies it owns instead, made under one pin of its
// cursor that ends inside the call: at most a quarter of the ring's
// events and 256 KB of payload per call (at least one event).
//
// Errors: `SLOTCAST_ERR_NULL` (`reader`, `views`, `count`),
// `SLOTCAST_ERR_INVALID_ARGUMENT` (`max` is 0, `views` misaligned),
// `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_EMPTY`
// (timeout 0), `SLOTCAST_ERR_TIMEOUT`, `SLOTCAST_ERR_CORRUPT` (after the
// events before the malformed one were lent; `*count` says how many),
// `SLOTCAST_ERR_LAGGED`, `SLOTCAST_ERR_STREAM_CLOSED`,
// `SLOTCAST_ERR_WRITER_DEAD` (with `*count` 0).
//
// Thread safety: as `slotcast_reader_borrow`.
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed.
// * `views` is valid for writes of `max` `slotcast_event_view` (null is
//   reported).
// * `count` is valid for a write of a `size_t` (null is reported).
int slotcast_reader_borrow_batch(struct slotcast_reader *reader, struct slotcast_event_view *views, size_t max, uint64_t timeout_ns, size_t *count);

// Stores in `*lag` how many published events this reader has not handed
// out yet.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED`.
//
// Thread safety: any thread, concurrently (serialised by the reader's
// lock); it ends the loan of borrowed views like any other call.
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed.
// * `lag` is valid for a write of a `uint64_t` (null is reported).
int slotcast_reader_lag(struct slotcast_reader *reader, uint64_t *lag);

// Stores in `*lost` how many events this reader lost to the writer
// lapping it since it joined: the sum of the counts of every
// `SLOTCAST_ERR_LAGGED` it returned (always 0 for a gating reader).
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED`.
//
// Thread safety: any thread, concurrently (serialised by the reader's
// lock); it ends the loan of borrowed views like any other call.
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed.
// * `lost` is valid for a write of a `uint64_t` (null is reported).
int slotcast_reader_lost(struct slotcast_reader *reader, uint64_t *lost);

// Closes the reader: it leaves the runtime (the writer stops waiting for
// it) and every view it lent becomes invalid. Later calls on the handle
// return `SLOTCAST_ERR_CLOSED`; free it with `slotcast_reader_free`.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED` (already closed).
//
// Thread safety: any thread, concurrently with other calls on the handle
// (it waits for the call in progress).
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed.
int slotcast_reader_close(struct slotcast_reader *reader);

// Closes the reader if it is open, and frees the handle. The pointer is
// invalid afterwards.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`.
//
// Thread safety: the last call on the handle; not concurrent with any
// other call on it.
//
// # Safety
//
// * `reader` is null or a handle from this library that was not freed,
//   and no other call on it is in progress or follows.
int slotcast_reader_free(struct slotcast_reader *reader);

// Fills `*config` with the default configuration.
//
// Thread safety: any thread, at any time.
//
// # Safety
//
// * `config` is valid for a write of a `slotcast_config` (null is
//   reported as `SLOTCAST_ERR_NULL`).
int slotcast_config_default(struct slotcast_config *config);

// Creates an in-process runtime with `*config` (null: the defaults) and
// stores its handle in `*out`.
//
// Errors: `SLOTCAST_ERR_NULL` (`out`), `SLOTCAST_ERR_INVALID_CONFIG`,
// `SLOTCAST_ERR_IO` (the arena cannot be mapped).
//
// Thread safety: any thread, at any time.
//
// # Safety
//
// * `config` is null or valid for a read of a `slotcast_config`.
// * `out` is valid for a write of a pointer (null is reported).
int slotcast_runtime_new(const struct slotcast_config *config, struct slotcast_runtime **out);

// Creates a shared runtime in a new file at `path` (it must not exist; a
// path under `/dev/shm` keeps it in memory) with `*config` (null: the
// defaults), and stores its handle in `*out`. Other processes open it with
// `slotcast_runtime_open`; the last process to close it removes the file.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_INVALID_CONFIG`,
// `SLOTCAST_ERR_IO` (the file exists, the directory is missing, ...),
// `SLOTCAST_ERR_UNSUPPORTED` (not Linux).
//
// Thread safety: any thread, at any time.
//
// # Safety
//
// * `path` is a NUL-terminated string (null is reported).
// * `config` is null or valid for a read of a `slotcast_config`.
// * `out` is valid for a write of a pointer (null is reported).
int slotcast_runtime_create_shared(const char *path, const struct slotcast_config *config, struct slotcast_runtime **out);

// Opens the shared runtime another process created at `path` and stores
// its handle in `*out`. `flags`: 0 or `SLOTCAST_OPEN_RECOVER_STALE`. Waits
// up to a second for a creator still initialising the file.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_INVALID_ARGUMENT` (unknown
// flags), `SLOTCAST_ERR_IO`, `SLOTCAST_ERR_BAD_FILE`, `SLOTCAST_ERR_STALE`,
// `SLOTCAST_ERR_TOO_MANY_PROCESSES`, `SLOTCAST_ERR_UNSUPPORTED`.
//
// Thread safety: any thread, at any time.
//
// # Safety
//
// * `path` is a NUL-terminated string (null is reported).
// * `out` is valid for a write of a pointer (null is reported).
int slotcast_runtime_open(const char *path, uint32_t flags, struct slotcast_runtime **out);

// Takes the runtime's writer role and stores the writer handle in `*out`.
// The role is held until the writer is closed or freed.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_WRITER_TAKEN`, `SLOTCAST_ERR_CORRUPT`
// (the file's published cursor is impossible; the role stays free).
//
// Thread safety: any thread, concurrently with other calls.
//
// # Safety
//
// * `runtime` is null or a handle from this library that was not freed.
// * `out` is valid for a write of a pointer (null is reported).
int slotcast_runtime_writer(struct slotcast_runtime *runtime, struct slotcast_writer **out);

// Joins the runtime as a gating reader, starting at the current published
// sequence, and stores the reader handle in `*out`. The reader entry is
// held (and gates the writer) until the reader is closed or freed.
// `slotcast_runtime_reader_with` chooses another policy or start.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_TOO_MANY_READERS` (every entry is
// held by a live reader: entries of dead processes are reaped first),
// `SLOTCAST_ERR_CORRUPT` (the file's cursors are impossible).
//
// Thread safety: any thread, concurrently with other calls.
//
// # Safety
//
// * `runtime` is null or a handle from this library that was not freed.
// * `out` is valid for a write of a pointer (null is reported).
int slotcast_runtime_reader(struct slotcast_runtime *runtime, struct slotcast_reader **out);

// Joins the runtime as a reader with the policy and start `flags` chooses
// (0, or `SLOTCAST_READER_LOSSY` and `SLOTCAST_READER_FROM_OLDEST` or-ed),
// and stores the reader handle in `*out`. `flags` 0 is
// `slotcast_runtime_reader`: a gating reader starting at the next event.
// A lossy reader holds the writer back only inside a read call, never
// between calls.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_INVALID_ARGUMENT` (unknown
// flag bits), `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`,
// `SLOTCAST_ERR_TOO_MANY_READERS`, `SLOTCAST_ERR_CORRUPT`, as
// `slotcast_runtime_reader`.
//
// Thread safety: any thread, concurrently with other calls.
//
// # Safety
//
// * `runtime` is null or a handle from this library that was not freed.
// * `out` is valid for a write of a pointer (null is reported).
int slotcast_runtime_reader_with(struct slotcast_runtime *runtime, uint32_t flags, struct slotcast_reader **out);

// Stores a snapshot of the runtime's statistics in `*stats`.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED`.
//
// Thread safety: any thread, concurrently with other calls. It only loads
// from the arena: it costs the writer and readers nothing.
//
// # Safety
//
// * `runtime` is null or a handle from this library that was not freed.
// * `stats` is valid for a write of a `slotcast_stats` (null is reported).
int slotcast_runtime_stats(struct slotcast_runtime *runtime, struct slotcast_stats *stats);

// Closes the runtime handle: the process lets go of the runtime once its
// writer and readers are closed too (for a shared runtime, the last
// process removes the file). Later calls on the handle return
// `SLOTCAST_ERR_CLOSED`; free it with `slotcast_runtime_free`.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED` (already closed).
//
// Thread safety: any thread, concurrently with other calls on the handle
// (it waits for the call in progress).
//
// # Safety
//
// * `runtime` is null or a handle from this library that was not freed.
int slotcast_runtime_close(struct slotcast_runtime *runtime);

// Closes the runtime handle if it is open, and frees it. The pointer is
// invalid afterwards.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`.
//
// Thread safety: the last call on the handle; not concurrent with any
// other call on it.
//
// # Safety
//
// * `runtime` is null or a handle from this library that was not freed,
//   and no other call on it is in progress or follows.
int slotcast_runtime_free(struct slotcast_runtime *runtime);

// A static, NUL-terminated English message for a status code; "unknown
// status code" for a code slotcast never returns. Never null.
//
// Thread safety: any thread, at any time.
const char *slotcast_strerror(int code);

// Copies `len` bytes at `data` into a slot of the smallest size class that
// fits and publishes them as one event of type `event_type`, visible to
// readers at once. Stores the event's sequence number in `*sequence` (if
// not null). `timeout_ns`: 0 does not wait, `SLOTCAST_WAIT_FOREVER` waits
// for room as long as it takes.
//
// A size class configured with 0 slots is skipped: the payload goes to the
// next larger class that has slots. If none has, the call fails with
// `SLOTCAST_ERR_TOO_LARGE` at once, whatever the timeout.
//
// Errors: `SLOTCAST_ERR_NULL` (`writer`, or `data` with `len > 0`),
// `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`,
// `SLOTCAST_ERR_TOO_LARGE`, `SLOTCAST_ERR_RING_FULL` and
// `SLOTCAST_ERR_POOL_FULL` (timeout 0), `SLOTCAST_ERR_TIMEOUT`.
//
// Thread safety: any thread, concurrently: calls on one writer are
// serialised by its lock.
//
// # Safety
//
// * `writer` is null or a handle from this library that was not freed.
// * `data` is null or valid for reads of `len` bytes, unchanged during the
//   call.
// * `sequence` is null or valid for a write of a `uint64_t`.
int slotcast_writer_publish(struct slotcast_writer *writer, uint32_t event_type, const void *data, size_t len, uint64_t timeout_ns, uint64_t *sequence);

// Publishes the `count` events of the array `events` (pointer, length and
// type each) as one batch: readers see them together, after one store of
// the published cursor. Every event is checked first: if one is bad
// (`SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_TOO_LARGE`) nothing is published.
// If the ring or a pool fills up (or the timeout passes), the events before
// the one that did not fit are published and the call fails with
// `SLOTCAST_ERR_RING_FULL`, `SLOTCAST_ERR_POOL_FULL` or
// `SLOTCAST_ERR_TIMEOUT`; `*published` always says how many events were
// published, so the caller can resume from there. `timeout_ns` bounds the
// whole call.
//
// Errors: as `slotcast_writer_publish`, and `SLOTCAST_ERR_INVALID_ARGUMENT`
// (a misaligned `events` array, or `count` too large for memory).
//
// Thread safety: any thread, concurrently: calls on one writer are
// serialised by its lock, and the events of one call stay contiguous.
//
// # Safety
//
// * `writer` is null or a handle from this library that was not freed.
// * `events` is null (only if `count` is 0) or valid for reads of `count`
//   `slotcast_event_in`, each of whose `data` is null or valid for reads of
//   its `len` bytes, all unchanged during the call.
// * `published` is null or valid for a write of a `size_t`.
int slotcast_writer_publish_batch(struct slotcast_writer *writer, const struct slotcast_event_in *events, size_t count, uint64_t timeout_ns, size_t *published);

// Publishes `count` events of type `event_type` as one batch, like
// `slotcast_writer_publish_batch`, from one contiguous buffer: event `i`
// is the `lens[i]` bytes that follow the events before it in `data`.
//
// Errors and `*published`: as `slotcast_writer_publish_batch`.
//
// Thread safety: as `slotcast_writer_publish_batch`.
//
// # Safety
//
// * `writer` is null or a handle from this library that was not freed.
// * `lens` is null (only if `count` is 0) or valid for reads of `count`
//   `uint32_t`; `data` is null (only if they add up to 0) or valid for
//   reads of their sum; both unchanged during the call.
// * `published` is null or valid for a write of a `size_t`.
int slotcast_writer_publish_packed(struct slotcast_writer *writer, uint32_t event_type, const void *data, const uint32_t *lens, size_t count, uint64_t timeout_ns, size_t *published);

// Stores the number of events published so far (the next sequence number)
// in `*published`.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED`.
//
// Thread safety: any thread, concurrently (serialised by the writer's lock).
//
// # Safety
//
// * `writer` is null or a handle from this library that was not freed.
// * `published` is valid for a write of a `uint64_t` (null is reported).
int slotcast_writer_published(struct slotcast_writer *writer, uint64_t *published);

// Closes the writer, and with it the stream: readers read every event it
// published, then get `SLOTCAST_ERR_STREAM_CLOSED` (a reader waiting for
// an event wakes up to say so). Gives the writer role back (another
// writer may take it, which opens the stream again) and returns its idle
// slots to the pools. `slotcast_writer_free` of an open writer closes it
// the same way. Later calls on the handle return `SLOTCAST_ERR_CLOSED`;
// free it with `slotcast_writer_free`.
//
// A writer whose process dies without closing does not close the stream:
// its readers get `SLOTCAST_ERR_WRITER_DEAD` instead, once the dead
// process is noticed (within milliseconds for a waiting reader).
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
// `SLOTCAST_ERR_CLOSED` (already closed).
//
// Thread safety: any thread, concurrently with other calls on the handle
// (it waits for the call in progress).
//
// # Safety
//
// * `writer` is null or a handle from this library that was not freed.
int slotcast_writer_close(struct slotcast_writer *writer);

// Closes the writer if it is open, and frees the handle. The pointer is
// invalid afterwards.
//
// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`.
//
// Thread safety: the last call on the handle; not concurrent with any
// other call on it.
//
// # Safety
//
// * `writer` is null or a handle from this library that was not freed,
//   and no other call on it is in progress or follows.
int slotcast_writer_free(struct slotcast_writer *writer);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SLOTCAST_H */
