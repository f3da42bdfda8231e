//! Orders of magnitude: histograms of `log2|x|` as the paper draws them (docs/paper.md#figures),
//! and the spreads that turn those pictures into numbers.
//!
//! `|x|` is clamped to `[1e-8, 1e4]` as in the paper; exact zeros are counted in a
//! bucket of their own instead of being clamped into the lowest one. Each octave
//! (`floor(log2|x|)`) is split into [`SUB_BINS`] sub-bins so that percentiles are
//! resolved to 1/16 of an octave; the counting runs on the tensor's device and only the
//! counts come back.
use tch::{Kind, Tensor};

pub const MIN_ABS: f64 = 1e-8;
pub const MAX_ABS: f64 = 1e4;
/// `floor(log2 1e-8)`, the lowest octave.
pub const LOW_OCTAVE: i64 = -27;
/// `floor(log2 1e4)`, the highest octave.
pub const HIGH_OCTAVE: i64 = 13;
pub const OCTAVES: usize = (HIGH_OCTAVE - LOW_OCTAVE + 1) as usize;
pub const SUB_BINS: i64 = 16;
const FINE_BINS: usize = OCTAVES * SUB_BINS as usize;
const ZERO_BIN: i64 = FINE_BINS as i64;

/// Counts of `log2|x|` in 1/16-octave bins, and the number of exact zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct Log2Histogram {
    pub fine: Vec<f64>,
    pub zeros: f64,
}

impl Log2Histogram {
    pub fn empty() -> Self {
        Log2Histogram {
            fine: vec![0.0; FINE_BINS],
            zeros: 0.0,
        }
    }

    pub fn nonzero(&self) -> f64 {
        self.fine.iter().sum()
    }

    pub fn total(&self) -> f64 {
        self.nonzero() + self.zeros
    }

    pub fn add(&mut self, other: &Log2Histogram) {
        self.fine
            .iter_mut()
            .zip(&other.fine)
            .for_each(|(a, b)| *a += b);
        self.zeros += other.zeros;
    }

    /// Counts per octave `LOW_OCTAVE ..= HIGH_OCTAVE`.
    pub fn octaves(&self) -> Vec<f64> {
        self.fine
            .chunks(SUB_BINS as usize)
            .map(|c| c.iter().sum())
            .collect()
    }

    /// The `q`-quantile (0..=1) of `log2|x|` over the non-zero values, interpolated
    /// within its sub-bin; `None` when every value is zero.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.nonzero();
        if n == 0.0 {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * n;
        let mut below = 0.0;
        for (i, &count) in self.fine.iter().enumerate() {
            if count > 0.0 && below + count >= target {
                let within = ((target - below) / count).clamp(0.0, 1.0);
                return Some(LOW_OCTAVE as f64 + (i as f64 + within) / SUB_BINS as f64);
            }
            below += count;
        }
        Some((HIGH_OCTAVE + 1) as f64)
    }

    /// The TensorBoard form: one bucket per octave (right edge `e + 1` for octave `e`),
    /// preceded by a bucket at `LOW_OCTAVE − 1` that holds the exact zeros.
    pub fn tensorboard_buckets(&self) -> (Vec<f64>, Vec<f64>) {
        let mut limits = vec![(LOW_OCTAVE - 1) as f64];
        let mut counts = vec![self.zeros];
        for (i, count) in self.octaves().into_iter().enumerate() {
            limits.push((LOW_OCTAVE + i as i64 + 1) as f64);
            counts.push(count);
        }
        (limits, counts)
    }
}

/// Each magnitude's bin: `floor(log2 · SUB_BINS)` from the lowest octave, clamped to the
/// fine bins; exact zeros go to `ZERO_BIN`.
fn bin_of(magnitude: &Tensor) -> Tensor {
    let zero = magnitude.eq(0.0);
    let bins = (magnitude.clamp(MIN_ABS, MAX_ABS).log2() * SUB_BINS as f64)
        .floor()
        .to_kind(Kind::Int64)
        - LOW_OCTAVE * SUB_BINS;
    bins.clamp(0, ZERO_BIN - 1).masked_fill(&zero, ZERO_BIN)
}

/// Histograms of `log2(|x| / divide_by)` for each `(offset, numel)` segment of a flat tensor.
///
/// One scatter-add counts every segment into a `[segments, bins]` tensor on the device,
/// and one copy brings it to the host: no per-segment `bincount` (which on CUDA reads
/// the minimum and maximum back to the host before counting).
pub fn log2_histograms(
    flat: &Tensor,
    segments: &[(i64, i64)],
    divide_by: f64,
) -> Vec<Log2Histogram> {
    if segments.is_empty() {
        return Vec::new();
    }
    let _no_grad = tch::no_grad_guard();
    let device = flat.device();
    let parts: Vec<Tensor> = segments
        .iter()
        .map(|&(offset, numel)| flat.narrow(0, offset, numel))
        .collect();
    let values = Tensor::cat(&parts, 0);
    let magnitude = if divide_by == 1.0 {
        values.abs()
    } else {
        values.abs() / divide_by
    };
    let bins = bin_of(&magnitude);
    // Each value's segment, then its cell of the [segments, bins] counts.
    let lengths: Vec<i64> = segments.iter().map(|&(_, numel)| numel).collect();
    let total: i64 = lengths.iter().sum();
    let segment_of = Tensor::arange(segments.len() as i64, (Kind::Int64, device))
        .repeat_interleave_self_tensor(&Tensor::from_slice(&lengths).to_device(device), 0, total);
    let cells = segment_of * (ZERO_BIN + 1) + bins;
    let counts = Tensor::zeros(
        [segments.len() as i64 * (ZERO_BIN + 1)],
        (Kind::Double, device),
    )
    .scatter_add(0, &cells, &Tensor::ones([total], (Kind::Double, device)))
    .to_device(tch::Device::Cpu);
    let counts = Vec::<f64>::try_from(counts).expect("counts are f64 on CPU");
    counts
        .chunks(FINE_BINS + 1)
        .map(|c| Log2Histogram {
            fine: c[..FINE_BINS].to_vec(),
            zeros: c[FINE_BINS],
        })
        .collect()
}

/// How many orders of magnitude a set of layers spans.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScaleSpread {
    /// 1st, 50th and 99th percentiles of `log2|x|` over all layers merged.
    pub p01: f64,
    pub p50: f64,
    pub p99: f64,
    /// `p99 − p01`.
    pub spread: f64,
    /// Lowest and highest per-layer median of `log2|x|`, and their difference.
    pub layer_median_min: f64,
    pub layer_median_max: f64,
    pub layer_median_range: f64,
    pub zero_fraction: f64,
}

/// The merged histogram of all layers.
pub fn merge(per_layer: &[Log2Histogram]) -> Log2Histogram {
    per_layer.iter().fold(Log2Histogram::empty(), |mut acc, h| {
        acc.add(h);
        acc
    })
}

/// `None` when every value is zero.
pub fn spread(per_layer: &[Log2Histogram]) -> Option<ScaleSpread> {
    let merged = merge(per_layer);
    let (p01, p50, p99) = (
        merged.quantile(0.01)?,
        merged.quantile(0.5)?,
        merged.quantile(0.99)?,
    );
    let medians: Vec<f64> = per_layer.iter().filter_map(|h| h.quantile(0.5)).collect();
    let lo = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = medians.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(ScaleSpread {
        p01,
        p50,
        p99,
        spread: p99 - p01,
        layer_median_min: lo,
        layer_median_max: hi,
        layer_median_range: hi - lo,
        zero_fraction: merged.zeros / merged.total(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_of(values: &[f32]) -> Log2Histogram {
        let t = Tensor::from_slice(values);
        log2_histograms(&t, &[(0, values.len() as i64)], 1.0).remove(0)
    }

    #[test]
    fn values_land_in_the_octave_of_floor_log2() {
        let h = histogram_of(&[1.0, 1.5, -3.0, 0.25, 1e-12, 1e9, 0.0, 0.0]);
        let octave = |e: i64| h.octaves()[(e - LOW_OCTAVE) as usize];
        assert_eq!(octave(0), 2.0, "1 and 1.5");
        assert_eq!(octave(1), 1.0, "|-3|");
        assert_eq!(octave(-2), 1.0, "0.25");
        assert_eq!(octave(LOW_OCTAVE), 1.0, "1e-12 clamps to 1e-8");
        assert_eq!(octave(HIGH_OCTAVE), 1.0, "1e9 clamps to 1e4");
        assert_eq!(h.zeros, 2.0, "zeros are counted apart, not clamped");
        assert_eq!(h.total(), 8.0);
    }

    #[test]
    fn quantiles_and_spread_read_orders_of_magnitude() {
        // 100 values at each of 2^-10 and 2^6: the spread is 16 octaves (within a sub-bin).
        let mut values = vec![2f32.powi(-10); 100];
        values.extend(vec![2f32.powi(6); 100]);
        let per_layer = log2_histograms(&Tensor::from_slice(&values), &[(0, 100), (100, 100)], 1.0);
        let s = spread(&per_layer).unwrap();
        assert!((s.p01 - -10.0).abs() < 1.0 / 16.0 + 1e-9, "{s:?}");
        assert!((s.p99 - 6.0).abs() < 1.0 / 16.0 + 1e-9, "{s:?}");
        assert!((s.spread - 16.0).abs() < 0.13, "{s:?}");
        assert!((s.layer_median_range - 16.0).abs() < 0.13, "{s:?}");
    }

    #[test]
    fn dividing_by_the_step_size_shifts_by_its_log2() {
        let values = [2f32.powi(-12); 10];
        let h = log2_histograms(&Tensor::from_slice(&values), &[(0, 10)], 2f64.powi(-10)).remove(0);
        assert!((h.quantile(0.5).unwrap() - -2.0).abs() < 1.0 / 16.0 + 1e-9);
    }

    /// Counting as it was done before: one `bincount` per segment (same bins, other counting).
    fn per_segment_bincount(
        flat: &Tensor,
        segments: &[(i64, i64)],
        divide_by: f64,
    ) -> Vec<Log2Histogram> {
        let bins = bin_of(&(flat.abs() / divide_by));
        segments
            .iter()
            .map(|&(offset, numel)| {
                let c = bins
                    .narrow(0, offset, numel)
                    .bincount::<Tensor>(None, ZERO_BIN + 1)
                    .to_kind(Kind::Double);
                let c = Vec::<f64>::try_from(c).unwrap();
                Log2Histogram {
                    fine: c[..FINE_BINS].to_vec(),
                    zeros: c[FINE_BINS],
                }
            })
            .collect()
    }

    #[test]
    fn the_single_scatter_counts_equal_one_bincount_per_segment() {
        tch::manual_seed(7);
        // Values over many octaves, exact zeros, and values beyond both clamps.
        let flat = Tensor::randn([5000], (Kind::Float, tch::Device::Cpu))
            * Tensor::randn([5000], (Kind::Float, tch::Device::Cpu)).exp2()
            * 1e3;
        let _ = flat.narrow(0, 100, 50).fill_(0.0);
        let _ = flat.narrow(0, 300, 5).fill_(1e9);
        let _ = flat.narrow(0, 400, 5).fill_(1e-20);
        // Out of order, with a gap, a one-value segment and a segment of zeros only.
        let segments = [(2000, 1500), (0, 700), (4999, 1), (100, 50), (3600, 1300)];
        for divide_by in [1.0, 1e-3] {
            let single = log2_histograms(&flat, &segments, divide_by);
            let reference = per_segment_bincount(&flat, &segments, divide_by);
            assert_eq!(single, reference, "divide_by {divide_by}");
            assert_eq!(single[3].zeros, 50.0);
            assert_eq!(single[0].total(), 1500.0);
        }
    }

    #[test]
    fn tensorboard_buckets_put_zeros_first_and_one_bucket_per_octave() {
        let h = histogram_of(&[0.0, 1.0]);
        let (limits, counts) = h.tensorboard_buckets();
        assert_eq!(limits.len(), OCTAVES + 1);
        assert_eq!(counts[0], 1.0);
        assert_eq!(counts[(0 - LOW_OCTAVE) as usize + 1], 1.0);
        assert_eq!(
            limits[(0 - LOW_OCTAVE) as usize + 1],
            1.0,
            "octave 0 ends at log2 = 1"
        );
    }
}
