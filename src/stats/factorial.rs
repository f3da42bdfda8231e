//! The factorial test of claim 4: decay through Adam's moments or decoupled from them ×
//! scale-free or not, the four Adam arms of `docs/factorial.md`. Given each arm's damage
//! (the paired change in final training loss under the gradient factors), the two main
//! effects and their interaction per seed, the dose-response slope, and the verdict rule
//! that the experiment file fixes before any run ([`FactorialRule`]).
use super::Estimate;
use serde::{Deserialize, Serialize};

/// One value per arm of the 2×2, in one seed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Square {
    /// Through the moments, not scale-free (`adam-l2`).
    pub adam_l2: f64,
    /// Decoupled, scale-free (`adamw`).
    pub adamw: f64,
    /// Decoupled, not scale-free (`adamw-not-scalefree`).
    pub adamw_not_scalefree: f64,
    /// Through the moments, scale-free (`adam-l2-scalefree`).
    pub adam_l2_scalefree: f64,
}

impl Square {
    /// Mean of the scale-free arms minus mean of the others: below 0 where
    /// scale-freeness lowers the value (the damage).
    pub fn scale_freeness(&self) -> f64 {
        (self.adamw + self.adam_l2_scalefree) / 2.0
            - (self.adam_l2 + self.adamw_not_scalefree) / 2.0
    }

    /// Mean of the decoupled arms minus mean of the arms through the moments.
    pub fn decoupling(&self) -> f64 {
        (self.adamw + self.adamw_not_scalefree) / 2.0
            - (self.adam_l2 + self.adam_l2_scalefree) / 2.0
    }

    /// Half the difference between scale-freeness's effect with decoupled decay and
    /// with decay through the moments (0 when the two factors add).
    pub fn interaction(&self) -> f64 {
        ((self.adamw - self.adamw_not_scalefree) - (self.adam_l2_scalefree - self.adam_l2)) / 2.0
    }
}

/// The main effects and the interaction over the seeds that have all four arms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Effects {
    pub scale_freeness: Option<Estimate>,
    pub decoupling: Option<Estimate>,
    pub interaction: Option<Estimate>,
}

impl Effects {
    pub fn of(squares: &[Square]) -> Effects {
        let over = |f: fn(&Square) -> f64| Estimate::of(&squares.iter().map(f).collect::<Vec<_>>());
        Effects {
            scale_freeness: over(Square::scale_freeness),
            decoupling: over(Square::decoupling),
            interaction: over(Square::interaction),
        }
    }
}

/// The least-squares slope of `y` on `x`; `None` with fewer than two distinct `x`.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The verdict rule's one parameter, as the experiment file's `factorial` key fixes it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorialRule {
    /// A factor is ruled out when its 95 % CI shows it lowers the damage by less than
    /// this fraction of Adam-ℓ2's mean damage; in (0, 1).
    pub margin: f64,
}

impl Default for FactorialRule {
    fn default() -> Self {
        FactorialRule { margin: 0.5 }
    }
}

impl FactorialRule {
    /// Refused with the key's name and what is valid.
    pub fn check(&self) -> Result<(), String> {
        if self.margin.is_finite() && self.margin > 0.0 && self.margin < 1.0 {
            Ok(())
        } else {
            Err(format!(
                "factorial.margin is {}; it is a fraction of Adam-ℓ2's damage, in (0, 1) (e.g. 0.5)",
                self.margin
            ))
        }
    }

    /// The rule in words, with its margin: what the report, the summary run and the
    /// docs quote.
    pub fn text(&self) -> String {
        let m = self.margin;
        format!(
            "The factorial's rule, fixed in the experiment file before any run. Damage: an \
             arm's paired change (factors − none, per seed) in final training loss at the \
             largest dose. The two main effects (scale-free arms − the others; decoupled arms \
             − the others, each a mean of two, per seed) with their 95 % CIs; D is Adam-ℓ2's \
             mean damage. A factor EXPLAINS the damage when its CI lies below 0 and reaches \
             −{m}·D; it is RULED OUT when its CI lies above −{m}·D (it lowers the damage by \
             less than {m} of Adam-ℓ2's, if at all). Verdict: SCALE-FREENESS (it explains, \
             decoupling is ruled out), DECOUPLING (the reverse), BOTH (both explain), NEITHER \
             (both ruled out: Adam-ℓ2's damage does not come from either); INCONCLUSIVE \
             otherwise, and whenever Adam-ℓ2's damage CI reaches 0 (nothing to explain), \
             fewer than 2 seeds have all four arms (no CI), or a run diverged at the largest \
             dose (its loss is missing, not zero)."
        )
    }
}

impl FactorialRule {
    /// How the natural half applies the same rule (after [`FactorialRule::text`]).
    pub fn natural_text(&self) -> String {
        let m = self.margin;
        format!(
            "The natural half applies the same rule without factors: to Adam-ℓ2's natural \
             disadvantage G (Adam-ℓ2 − AdamW final training loss, per seed) and the main \
             effects on the final training loss itself. A factor CARRIES the natural gap \
             (EXPLAINS) when its CI lies below 0 and reaches −{m}·G, is RULED OUT when its CI \
             lies above −{m}·G; INCONCLUSIVE whenever G's CI reaches 0 (no natural gap to \
             attribute), fewer than 2 seeds have all four arms, or a run without factors \
             diverged."
        )
    }
}

/// What the rule finds of one factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Explains,
    RuledOut,
    Unclear,
}

impl Role {
    fn of(effect: &Estimate, damage: f64, margin: f64) -> Role {
        let (low, high) = effect.bounds();
        if low > -margin * damage {
            Role::RuledOut
        } else if high < 0.0 {
            Role::Explains
        } else {
            Role::Unclear
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Role::Explains => "explains",
            Role::RuledOut => "ruled out",
            Role::Unclear => "unclear",
        }
    }
}

/// Which factor explains Adam-ℓ2's damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Explanation {
    ScaleFreeness,
    Decoupling,
    Both,
    Neither,
    Inconclusive,
}

impl Explanation {
    pub fn word(self) -> &'static str {
        match self {
            Explanation::ScaleFreeness => "SCALE-FREENESS",
            Explanation::Decoupling => "DECOUPLING",
            Explanation::Both => "BOTH",
            Explanation::Neither => "NEITHER",
            Explanation::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// The verdict with why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub outcome: Explanation,
    pub scale_freeness: Option<Role>,
    pub decoupling: Option<Role>,
    pub why: String,
}

impl Verdict {
    fn inconclusive(why: String) -> Verdict {
        Verdict {
            outcome: Explanation::Inconclusive,
            scale_freeness: None,
            decoupling: None,
            why,
        }
    }
}

/// What the rule explains: Adam-ℓ2's damage under factors, or its natural disadvantage
/// without them (the factorial's natural half), with the words each is told in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Adam-ℓ2's paired change (factors − none) at the largest dose; the effects are on
    /// the damage.
    Damage,
    /// Adam-ℓ2 − AdamW final training loss without factors; the effects are on the loss.
    NaturalGap,
}

impl Target {
    /// (the quantity, its symbol, where the runs are, what is missing when it reaches 0)
    fn words(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Target::Damage => (
                "Adam-ℓ2's damage",
                "D",
                "at the largest dose",
                "nothing to explain at this dose",
            ),
            Target::NaturalGap => (
                "Adam-ℓ2's natural disadvantage (Adam-ℓ2 − AdamW final training loss without factors)",
                "G",
                "without factors",
                "no natural gap to explain at this budget",
            ),
        }
    }
}

impl FactorialRule {
    /// The verdict on `adam_l2` (Adam-ℓ2's damage at the largest dose) and the main
    /// `effects` there; `diverged` runs at that dose make it inconclusive.
    pub fn judge(&self, adam_l2: Option<&Estimate>, effects: &Effects, diverged: usize) -> Verdict {
        self.judge_target(Target::Damage, adam_l2, effects, diverged)
    }

    /// The same rule on what `target` names: `size` is its estimate (above 0: Adam-ℓ2
    /// worse), `effects` the main effects on the same measure.
    pub fn judge_target(
        &self,
        target: Target,
        size: Option<&Estimate>,
        effects: &Effects,
        diverged: usize,
    ) -> Verdict {
        let (what, symbol, runs, nothing) = target.words();
        if diverged > 0 {
            return Verdict::inconclusive(format!(
                "{diverged} run(s) diverged {runs}: their loss is missing, so the main effects \
                 cannot be estimated"
            ));
        }
        let (Some(size), Some(sf), Some(dec)) = (size, effects.scale_freeness, effects.decoupling)
        else {
            return Verdict::inconclusive(format!("an arm has no completed run {runs}"));
        };
        if sf.half_width.is_none() || dec.half_width.is_none() || size.half_width.is_none() {
            return Verdict::inconclusive(
                "fewer than 2 seeds have all four arms: no confidence interval".into(),
            );
        }
        if size.bounds().0 <= 0.0 {
            return Verdict::inconclusive(format!(
                "{what} {} reaches 0: {nothing}",
                size.signed_text(4)
            ));
        }
        let role_sf = Role::of(&sf, size.mean, self.margin);
        let role_dec = Role::of(&dec, size.mean, self.margin);
        let outcome = match (role_sf, role_dec) {
            (Role::Explains, Role::RuledOut) => Explanation::ScaleFreeness,
            (Role::RuledOut, Role::Explains) => Explanation::Decoupling,
            (Role::Explains, Role::Explains) => Explanation::Both,
            (Role::RuledOut, Role::RuledOut) => Explanation::Neither,
            _ => Explanation::Inconclusive,
        };
        Verdict {
            outcome,
            scale_freeness: Some(role_sf),
            decoupling: Some(role_dec),
            why: format!(
                "{what} {symbol} = {}; scale-freeness {} ({}), decoupling {} ({}); \
                 threshold −{}·{symbol} = {:+.4}",
                size.signed_text(4),
                sf.signed_text(4),
                role_sf.word(),
                dec.signed_text(4),
                role_dec.word(),
                self.margin,
                -self.margin * size.mean
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(
        adam_l2: f64,
        adamw: f64,
        adamw_not_scalefree: f64,
        adam_l2_scalefree: f64,
    ) -> Square {
        Square {
            adam_l2,
            adamw,
            adamw_not_scalefree,
            adam_l2_scalefree,
        }
    }

    #[test]
    fn effects_are_the_textbook_contrasts() {
        // Only scale-freeness protects: the scale-free arms lose nothing.
        let s = square(0.08, 0.0, 0.08, 0.0);
        assert_eq!(s.scale_freeness(), -0.08);
        assert_eq!(s.decoupling(), 0.0);
        assert_eq!(s.interaction(), 0.0);
        // Only AdamW (both factors at once) is spared: equal halves and an interaction.
        let s = square(0.08, 0.0, 0.08, 0.08);
        assert_eq!(s.scale_freeness(), -0.04);
        assert_eq!(s.decoupling(), -0.04);
        assert_eq!(s.interaction(), -0.04);
    }

    #[test]
    fn the_slope_is_least_squares() {
        let line = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)];
        assert_eq!(slope(&line), Some(2.0));
        // 0, 1, 1, 4 at 0..3: Σ(x − 1.5)(y − 1.5) = 2.25 + 0.25 − 0.25 + 3.75 = 6 over
        // Σ(x − 1.5)² = 5.
        assert!(
            (slope(&[(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (3.0, 4.0)]).unwrap() - 1.2).abs() < 1e-12
        );
        assert_eq!(slope(&[(1.0, 0.0), (1.0, 2.0)]), None);
    }

    /// Seeds of the same square with a little noise, so the CIs are narrow.
    fn noisy(s: Square) -> Vec<Square> {
        let noise = [-0.002, 0.001, 0.0, 0.002, -0.001, 0.0];
        noise
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let f = if i % 2 == 0 { 1.0 } else { -1.0 };
                square(
                    s.adam_l2 + e,
                    s.adamw - e * f,
                    s.adamw_not_scalefree + e * f,
                    s.adam_l2_scalefree - e,
                )
            })
            .collect()
    }

    fn effects_of(s: Square) -> (Estimate, Effects) {
        let squares = noisy(s);
        let damage = Estimate::of(&squares.iter().map(|s| s.adam_l2).collect::<Vec<_>>()).unwrap();
        (damage, Effects::of(&squares))
    }

    #[test]
    fn the_rule_gives_each_outcome() {
        let rule = FactorialRule::default();
        let judge = |s: Square| {
            let (damage, effects) = effects_of(s);
            rule.judge(Some(&damage), &effects, 0).outcome
        };
        assert_eq!(
            judge(square(0.08, 0.0, 0.08, 0.0)),
            Explanation::ScaleFreeness
        );
        assert_eq!(judge(square(0.08, 0.0, 0.0, 0.08)), Explanation::Decoupling);
        assert_eq!(judge(square(0.08, 0.0, 0.08, 0.08)), Explanation::Both);
        assert_eq!(judge(square(0.08, 0.08, 0.08, 0.08)), Explanation::Neither);
        // Each factor lowers the damage by 0.03, less than 0.5·D = 0.04: ruled out.
        assert_eq!(judge(square(0.08, 0.02, 0.04, 0.04)), Explanation::Neither);
        // No damage to explain.
        assert_eq!(judge(square(0.0, 0.0, 0.0, 0.0)), Explanation::Inconclusive);
    }

    /// The natural half: the arms' losses themselves, G = Adam-ℓ2 − AdamW per seed.
    #[test]
    fn the_rule_judges_the_natural_gap_in_its_own_words() {
        let rule = FactorialRule::default();
        let judge = |s: Square| {
            let squares = noisy(s);
            let gap: Vec<f64> = squares.iter().map(|s| s.adam_l2 - s.adamw).collect();
            let g = Estimate::of(&gap).unwrap();
            rule.judge_target(Target::NaturalGap, Some(&g), &Effects::of(&squares), 0)
        };
        // Adam-ℓ2 2.08 and its scale-free twin 2.0: scale-freeness carries the gap.
        let verdict = judge(square(2.08, 2.0, 2.08, 2.0));
        assert_eq!(verdict.outcome, Explanation::ScaleFreeness);
        assert!(
            verdict.why.starts_with("Adam-ℓ2's natural disadvantage"),
            "{}",
            verdict.why
        );
        assert!(verdict.why.contains("−0.5·G"), "{}", verdict.why);
        assert_eq!(
            judge(square(2.08, 2.0, 2.0, 2.08)).outcome,
            Explanation::Decoupling
        );
        // No gap: nothing to attribute, said as the natural half says it.
        let none = judge(square(2.0, 2.0, 2.0, 2.0));
        assert_eq!(none.outcome, Explanation::Inconclusive);
        assert!(
            none.why.contains("no natural gap to explain"),
            "{}",
            none.why
        );
    }

    #[test]
    fn wide_intervals_divergence_and_one_seed_are_inconclusive() {
        let rule = FactorialRule::default();
        let wide = [
            square(0.08, 0.2, 0.08, -0.1),
            square(0.09, -0.2, 0.1, 0.1),
            square(0.07, 0.0, 0.0, 0.0),
        ];
        let damage = Estimate::of(&wide.iter().map(|s| s.adam_l2).collect::<Vec<_>>()).unwrap();
        let verdict = rule.judge(Some(&damage), &Effects::of(&wide), 0);
        assert_eq!(verdict.outcome, Explanation::Inconclusive);
        assert_eq!(verdict.scale_freeness, Some(Role::Unclear));

        let (damage, effects) = effects_of(square(0.08, 0.0, 0.08, 0.0));
        let diverged = rule.judge(Some(&damage), &effects, 1);
        assert_eq!(diverged.outcome, Explanation::Inconclusive);
        assert!(
            diverged.why.contains("1 run(s) diverged"),
            "{}",
            diverged.why
        );

        let one = [square(0.08, 0.0, 0.08, 0.0)];
        let damage = Estimate::of(&[0.08]).unwrap();
        let verdict = rule.judge(Some(&damage), &Effects::of(&one), 0);
        assert_eq!(verdict.outcome, Explanation::Inconclusive);
        assert!(
            verdict.why.contains("no confidence interval"),
            "{}",
            verdict.why
        );
    }

    #[test]
    fn the_margin_is_checked_and_quoted() {
        assert!(FactorialRule { margin: 0.5 }.check().is_ok());
        for bad in [0.0, 1.0, -0.2, f64::NAN] {
            let err = FactorialRule { margin: bad }.check().unwrap_err();
            assert!(
                err.contains("factorial.margin") && err.contains("(0, 1)"),
                "{err}"
            );
        }
        assert!(FactorialRule { margin: 0.3 }.text().contains("−0.3·D"));
    }
}
