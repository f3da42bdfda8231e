//! A held-out validation split taken from the training set.
use super::dataset::{Dataset, Split};
use super::error::DataError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

impl Dataset {
    /// Splits the training set into (train, validation), holding out `fraction` of each
    /// class (rounded) so that both keep the class balance. The same `seed` always picks the
    /// same images; both parts keep the original order.
    pub fn split_validation(&self, fraction: f64, seed: u64) -> Result<(Split, Split), DataError> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(DataError::InvalidArgument(format!(
                "validation fraction {fraction} is not in [0, 1)"
            )));
        }
        let mut by_class = vec![Vec::new(); self.classes.len()];
        for (i, &label) in self.train.labels.iter().enumerate() {
            by_class[label as usize].push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut held_out = vec![false; self.train.len()];
        for indices in &mut by_class {
            indices.shuffle(&mut rng);
            let n = (fraction * indices.len() as f64).round() as usize;
            for &i in &indices[..n] {
                held_out[i] = true;
            }
        }
        let (val, train): (Vec<usize>, Vec<usize>) =
            (0..self.train.len()).partition(|&i| held_out[i]);
        Ok((self.train.subset(&train), self.train.subset(&val)))
    }
}
