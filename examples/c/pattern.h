/*
 * The events the C and Python clients publish and the Rust tests verify:
 * event i has a length, a type and bytes that depend on i only, so a reader
 * can check every event it sees. Mirrored in examples/python/pattern.py and
 * tests/common/capi.rs.
 *
 *   length  1000 bytes if i % 10 == 0 (an M slot), else 8 + i % 57 (XS/S)
 *   type    (i / 32) % 7 + 1 (constant over each aligned block of 32)
 *   bytes   [0..8) i little-endian, then byte k is (i * 131 + k) & 0xff
 */
#ifndef SLOTCAST_EXAMPLE_PATTERN_H
#define SLOTCAST_EXAMPLE_PATTERN_H

#include <stddef.h>
#include <stdint.h>

static inline size_t pattern_len(uint64_t i) {
    return i % 10 == 0 ? 1000 : 8 + (size_t)(i % 57);
}

static inline uint32_t pattern_type(uint64_t i) {
    return (uint32_t)((i / 32) % 7 + 1);
}

/* Fills buf (at least pattern_len(i) bytes) and returns the length. */
static inline size_t pattern_fill(uint64_t i, uint8_t *buf) {
    size_t len = pattern_len(i);
    for (size_t k = 0; k < 8; k++) {
        buf[k] = (uint8_t)(i >> (8 * k));
    }
    for (size_t k = 8; k < len; k++) {
        buf[k] = (uint8_t)((i * 131 + k) & 0xff);
    }
    return len;
}

#endif
