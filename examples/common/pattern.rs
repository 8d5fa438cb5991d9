//! Self-checking payloads: a sequence number, a fill derived from it, and a
//! checksum, so a reader can verify order and integrity of every event.
//!
//! Layout of a payload of `len >= MIN_LEN` bytes:
//! `[0..8)` the sequence number, `[8..len-8)` fill, `[len-8..len)` checksum
//! of everything before it. All little-endian.
#![allow(dead_code)]

/// Smallest payload that carries a sequence and a checksum.
pub(crate) const MIN_LEN: usize = 16;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Checksum of `data`: four independent multiply-xor lanes over 32-byte
/// blocks, so it runs at several bytes per cycle and never dominates a 4 KB
/// read; leftover words and a zero-padded tail are folded in at the end.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    #[inline(always)]
    fn word(b: &[u8]) -> u64 {
        u64::from_le_bytes(b.try_into().expect("8 bytes"))
    }
    #[inline(always)]
    fn mix(lane: u64, w: u64) -> u64 {
        (lane ^ w).wrapping_mul(K).rotate_left(31)
    }
    let (mut a, mut b, mut c, mut d) =
        (0x243F_6A88_85A3_08D3u64, 0x1319_8A2E_0370_7344u64, 0xA409_3822_299F_31D0u64, 0x082E_FA98_EC4E_6C89u64);
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        a = mix(a, word(&block[0..8]));
        b = mix(b, word(&block[8..16]));
        c = mix(c, word(&block[16..24]));
        d = mix(d, word(&block[24..32]));
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        a = mix(a, word(w));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    let h = [b, c, d, u64::from_le_bytes(tail)].iter().fold(mix(a, data.len() as u64), |h, &l| mix(h, l));
    h ^ (h >> 32)
}

/// Fills `buf` for sequence `seq`.
///
/// # Panics
///
/// If `buf` is shorter than [`MIN_LEN`].
pub(crate) fn fill(seq: u64, buf: &mut [u8]) {
    assert!(buf.len() >= MIN_LEN, "a self-checking payload needs at least {MIN_LEN} bytes");
    let body = buf.len() - 8;
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    let base = seq.wrapping_mul(K);
    let mut words = buf[8..body].chunks_exact_mut(8);
    for (i, w) in (&mut words).enumerate() {
        // Independent per word, so the loop vectorises.
        let x = base ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        w.copy_from_slice(&x.to_le_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b = (base >> (8 * i)) as u8;
    }
    let sum = checksum(&buf[..body]);
    buf[body..].copy_from_slice(&sum.to_le_bytes());
}

/// What is wrong with a payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Shorter than [`MIN_LEN`].
    Short(usize),
    /// The checksum does not match.
    Checksum { seq: u64 },
}

/// Verifies a payload made by [`fill`] and returns its sequence number.
pub(crate) fn check(data: &[u8]) -> Result<u64, Bad> {
    if data.len() < MIN_LEN {
        return Err(Bad::Short(data.len()));
    }
    let body = data.len() - 8;
    let seq = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let sum = u64::from_le_bytes(data[body..].try_into().expect("8 bytes"));
    if checksum(&data[..body]) != sum {
        return Err(Bad::Checksum { seq });
    }
    Ok(seq)
}

/// Payload length of event `seq` in a mixed stream: 90% 64 B, 9% 1 KB,
/// 1% 16 KB, in a fixed interleaving.
pub(crate) fn mixed_len(seq: u64) -> usize {
    match seq % 100 {
        0 => 16 * 1024,
        1..=9 => 1024,
        _ => 64,
    }
}
