//! The check as its lanes' observer: AdamW (lane 0), AdamProx (lane 1) and the control
//! (lane 2), with the float64 shadows that take one step of each rule from AdamW's state.
use super::shadow::{Shadow, State};
use super::{ProxProgress, Row};
use crate::checks::{distance, norm};
use crate::train::lockstep::{Flow, LaneObserver};
use crate::train::Session;
use anyhow::Result;
use tch::{Kind, Tensor};

pub struct ProxWatch<'a> {
    shadows: [Shadow; 2],
    /// λ·s_t with a constant schedule.
    pub a: f64,
    every: u64,
    steps: u64,
    x0: Tensor,
    progress: &'a mut dyn ProxProgress,
    rows: Vec<Row>,
    diff_sum: f64,
    pred_sum: f64,
    ratio_min: f64,
    ratio_max: f64,
    diverged: Option<String>,
}

impl<'a> ProxWatch<'a> {
    pub fn new(
        shadows: [Shadow; 2],
        a: f64,
        every: u64,
        steps: u64,
        x0: Tensor,
        progress: &'a mut dyn ProxProgress,
    ) -> Self {
        ProxWatch {
            shadows,
            a,
            every,
            steps,
            x0,
            progress,
            rows: Vec::new(),
            diff_sum: 0.0,
            pred_sum: 0.0,
            ratio_min: f64::INFINITY,
            ratio_max: f64::NEG_INFINITY,
            diverged: None,
        }
    }

    /// The rows, the extremes of the per-step ratio (none when λ = 0) and what diverged.
    pub fn finish(self) -> (Vec<Row>, Option<(f64, f64)>, Option<String>) {
        let ratios = (self.ratio_min, self.ratio_max);
        let ratios = self.ratio_min.is_finite().then_some(ratios);
        (self.rows, ratios, self.diverged)
    }

    /// The row after step `t`, from the lanes' weights and their statistics since the
    /// last row.
    fn row(&self, t: u64, lanes: &mut [Session]) -> Row {
        let [w, p, c] = [0, 1, 2].map(|i| lanes[i].take_window());
        let xw = lanes[0].trainer().flat_values();
        let xp = lanes[1].trainer().flat_values();
        let gap = distance(&xw, &xp);
        let interval = (t - self.rows.last().map_or(0, |r| r.step)) as f64;
        Row {
            step: t,
            relative_distance: gap / norm(&xw),
            control_distance: distance(&xw, &lanes[2].trainer().flat_values()) / norm(&xw),
            loss_control: c.mean_loss(),
            gap_over_travelled: gap / distance(&xw, &self.x0),
            loss_adamw: w.mean_loss(),
            loss_adam_prox: p.mean_loss(),
            accuracy_adamw: w.accuracy(),
            accuracy_adam_prox: p.accuracy(),
            step_difference: self.diff_sum / interval,
            step_prediction: self.pred_sum / interval,
            step_ratio: (self.pred_sum > 0.0).then(|| self.diff_sum / self.pred_sum),
        }
    }
}

impl LaneObserver for ProxWatch<'_> {
    fn gradients_ready(&mut self, t: u64, lanes: &[Session]) -> Result<Flow> {
        if let Some(which) = ["AdamW", "AdamProx"]
            .iter()
            .zip(lanes)
            .find_map(|(name, lane)| lane.diverged_at().map(|_| name))
        {
            self.diverged = Some(format!("{which}'s loss stopped being finite at step {t}"));
            return Ok(Flow::Stop);
        }
        let state = State::of(lanes[0].trainer().optimizer());
        let [shadow_w, shadow_p] = &mut self.shadows;
        let next_w = shadow_w.step_from(&state)?;
        let next_p = shadow_p.step_from(&state)?;
        let measured = distance(&next_w, &next_p);
        let eta_u = state.values.to_kind(Kind::Double) - &next_p * (1.0 + self.a);
        let predicted = self.a * norm(&eta_u);
        self.diff_sum += measured;
        self.pred_sum += predicted;
        if predicted > 0.0 {
            self.ratio_min = self.ratio_min.min(measured / predicted);
            self.ratio_max = self.ratio_max.max(measured / predicted);
        }
        self.progress.step_difference(t, measured, predicted);
        Ok(Flow::Continue)
    }

    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> Result<Flow> {
        if t.is_multiple_of(self.every) || t == self.steps {
            let row = self.row(t, lanes);
            self.progress.row(&row);
            self.rows.push(row);
            (self.diff_sum, self.pred_sum) = (0.0, 0.0);
        }
        Ok(Flow::Continue)
    }
}
