//! Training augmentation (random crop 32 with 4 pixels of zero padding, random horizontal
//! flip) and per-channel normalisation, done in one pass from uint8 CHW to f32 CHW.
//!
//! Each image's randomness is a pure function of (seed, epoch, position in the epoch): one
//! 64-bit word at a fixed place of a ChaCha8 stream, so batches are the same whichever
//! thread builds them and a run can resume at any batch.
use super::dataset::{CHANNELS, IMAGE_SIZE};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Zero padding on each side before the random crop.
pub const PAD: usize = 4;
const CROP_OFFSETS: u64 = 2 * PAD as u64 + 1;

/// Where one image is cropped from the padded image, and whether it is then flipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    /// Column of the padded (40×40) image that becomes column 0 of the crop, 0..=8.
    pub dx: usize,
    /// Row of the padded image that becomes row 0 of the crop, 0..=8.
    pub dy: usize,
    /// Mirror left-right after cropping.
    pub flip: bool,
}

impl Augment {
    /// The identity: a centred crop, no flip.
    pub const NONE: Augment = Augment {
        dx: PAD,
        dy: PAD,
        flip: false,
    };

    /// The augmentation of the image at `position` of epoch `epoch`.
    pub fn draw(seed: u64, epoch: u64, position: usize) -> Augment {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(augment_stream(epoch));
        // A u64 is two 32-bit words of the stream.
        rng.set_word_pos(2 * position as u128);
        let r = rng.next_u64();
        Augment {
            dx: (r % CROP_OFFSETS) as usize,
            dy: (r / CROP_OFFSETS % CROP_OFFSETS) as usize,
            flip: (r / (CROP_OFFSETS * CROP_OFFSETS)) & 1 == 1,
        }
    }
}

// Even streams shuffle, odd streams augment, so the two never share random words.
fn shuffle_stream(epoch: u64) -> u64 {
    epoch.wrapping_mul(2)
}

fn augment_stream(epoch: u64) -> u64 {
    epoch.wrapping_mul(2) + 1
}

/// The order in which epoch `epoch` visits `n` images: a permutation fixed by (seed, epoch).
pub fn shuffled_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(shuffle_stream(epoch));
    order.shuffle(&mut rng);
    order
}

/// Per-channel `(x / 255 - mean) / std` as a lookup table over the 256 byte values.
#[derive(Clone)]
pub struct Normalizer {
    table: [[f32; 256]; CHANNELS],
}

impl Normalizer {
    pub fn new(mean: [f32; 3], std: [f32; 3]) -> Normalizer {
        let mut table = [[0.0; 256]; CHANNELS];
        for c in 0..CHANNELS {
            for (v, t) in table[c].iter_mut().enumerate() {
                *t = (v as f32 / 255.0 - mean[c]) / std[c];
            }
        }
        Normalizer { table }
    }

    /// Writes the augmented, normalised `image` (3072 bytes, CHW) into `out` (3072 floats).
    /// Padding is zero before normalisation, as torchvision pads the uint8 image.
    pub fn apply(&self, image: &[u8], aug: Augment, out: &mut [f32]) {
        let plane = IMAGE_SIZE * IMAGE_SIZE;
        for c in 0..CHANNELS {
            let table = &self.table[c];
            let src = &image[c * plane..(c + 1) * plane];
            let dst = &mut out[c * plane..(c + 1) * plane];
            for (y, row) in dst.chunks_exact_mut(IMAGE_SIZE).enumerate() {
                // Row and column of the source image are (padded coordinate - PAD).
                let sy = (y + aug.dy).wrapping_sub(PAD);
                if sy >= IMAGE_SIZE {
                    row.fill(table[0]);
                    continue;
                }
                let src_row = &src[sy * IMAGE_SIZE..(sy + 1) * IMAGE_SIZE];
                for (x, v) in row.iter_mut().enumerate() {
                    let cx = if aug.flip { IMAGE_SIZE - 1 - x } else { x };
                    let sx = (cx + aug.dx).wrapping_sub(PAD);
                    *v = table[src_row.get(sx).copied().unwrap_or(0) as usize];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_BYTES;

    fn ramp() -> Vec<u8> {
        (0..IMAGE_BYTES).map(|i| (i % 251) as u8 + 1).collect()
    }

    fn identity() -> Normalizer {
        Normalizer::new([0.0; 3], [1.0 / 255.0; 3])
    }

    #[test]
    fn none_is_the_identity() {
        let image = ramp();
        let mut out = vec![0.0; IMAGE_BYTES];
        identity().apply(&image, Augment::NONE, &mut out);
        for (a, b) in image.iter().zip(&out) {
            assert!((*a as f32 - b).abs() < 1e-3);
        }
    }

    #[test]
    fn crop_and_flip_follow_the_formula() {
        let image = ramp();
        let mut out = vec![0.0; IMAGE_BYTES];
        for aug in [
            Augment {
                dx: 0,
                dy: 8,
                flip: false,
            },
            Augment {
                dx: 8,
                dy: 0,
                flip: true,
            },
            Augment {
                dx: 3,
                dy: 6,
                flip: true,
            },
        ] {
            identity().apply(&image, aug, &mut out);
            for c in 0..3 {
                for y in 0..32 {
                    for x in 0..32 {
                        let cx = if aug.flip { 31 - x } else { x };
                        let (sy, sx) =
                            (y as i64 + aug.dy as i64 - 4, cx as i64 + aug.dx as i64 - 4);
                        let want = if (0..32).contains(&sy) && (0..32).contains(&sx) {
                            image[c * 1024 + sy as usize * 32 + sx as usize] as f32
                        } else {
                            0.0
                        };
                        assert!((out[c * 1024 + y * 32 + x] - want).abs() < 1e-3, "{aug:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn draws_cover_every_offset_and_flip_half_the_time() {
        let draws: Vec<Augment> = (0..20_000).map(|p| Augment::draw(7, 3, p)).collect();
        let flips = draws.iter().filter(|a| a.flip).count() as f64 / draws.len() as f64;
        assert!((flips - 0.5).abs() < 0.02, "flip rate {flips}");
        for offset in 0..=8 {
            let dx = draws.iter().filter(|a| a.dx == offset).count() as f64 / 20_000.0;
            let dy = draws.iter().filter(|a| a.dy == offset).count() as f64 / 20_000.0;
            assert!((dx - 1.0 / 9.0).abs() < 0.015 && (dy - 1.0 / 9.0).abs() < 0.015);
        }
        assert_eq!(Augment::draw(7, 3, 11), draws[11]);
        assert_ne!(
            (0..64).map(|p| Augment::draw(7, 4, p)).collect::<Vec<_>>(),
            draws[..64].to_vec()
        );
    }

    #[test]
    fn shuffles_are_permutations_fixed_by_seed_and_epoch() {
        let a = shuffled_order(1000, 1, 0);
        assert_eq!(a, shuffled_order(1000, 1, 0));
        assert_ne!(a, shuffled_order(1000, 1, 1));
        assert_ne!(a, shuffled_order(1000, 2, 0));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    }
}
