//! Small PNGs built in code, different bytes for every seed (so KYC's duplicate check sees
//! a new file each time, as it would from real users).

use std::io::Cursor;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use image::{ImageFormat, Rgb, RgbImage};

/// Width and height of every image: 64×64 RGB, about 9 KB once compressed.
pub const SIDE: u32 = 64;

/// A `SIDE`×`SIDE` PNG: a gradient with low-order noise drawn from `seed`.
pub fn png(seed: u64) -> anyhow::Result<Vec<u8>> {
    let mut state = seed;
    let img = RgbImage::from_fn(SIDE, SIDE, |x, y| {
        let noise = splitmix64(&mut state).to_le_bytes();
        Rgb([
            ((x * 4) as u8) ^ (noise[0] & 0x0f),
            ((y * 4) as u8) ^ (noise[1] & 0x0f),
            (((x + y) * 2) as u8) ^ (noise[2] & 0x0f),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// A seed no other call in this run, nor (very nearly) in an earlier run, has had.
pub fn next_seed() -> u64 {
    static RUN: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let run = *RUN.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let mut mixed = run ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
    splitmix64(&mut mixed)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_gives_a_different_small_png_that_decodes() -> anyhow::Result<()> {
        let (a, b) = (png(next_seed())?, png(next_seed())?);
        assert_ne!(a, b);
        for bytes in [&a, &b] {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
            assert!(
                (1024..16 * 1024).contains(&bytes.len()),
                "{} bytes",
                bytes.len()
            );
            let img = image::load_from_memory_with_format(bytes, ImageFormat::Png)?;
            assert_eq!((img.width(), img.height()), (SIDE, SIDE));
        }
        Ok(())
    }
}
