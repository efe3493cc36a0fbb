//! A hash that stays the same across builds, platforms and Rust versions (FNV-1a, 64 bits),
//! for identities Canopy writes down: Message-IDs, fingerprints of metric definitions.

/// FNV-1a of `bytes`.
pub fn stable_hash(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_published_fnv1a_values() {
        assert_eq!(super::stable_hash(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::stable_hash(*b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
