//! How many runs a CPU sweep trains at once, and with how many threads each, chosen from
//! the machine (cores, memory) and the runs (model, precision, how many), by a rule
//! measured on real training steps rather than guessed.
//!
//! libtorch's CPU kernels scale below linearly with threads at CIFAR sizes, so c runs
//! side by side with one thread each do more work per minute than one run on c threads
//! (measured below). Against that stand the tail (with fewer runs left than slots, cores
//! idle) and memory (each run holds its own model, activations and data). The rule
//! predicts the sweep's length for every number of runs at once and takes the shortest.
use crate::config::{Precision, RunConfig};

/// A model and precision whose training steps were timed side by side: `gain` is the
/// summed steady images/s of 2 single-thread runs at once over one run's on 2 threads.
struct Measured {
    model: &'static str,
    bn: bool,
    precision: Precision,
    gain: f64,
}

/// Where [`MEASURED`] came from, for the sweep's message.
const MEASURED_ON: &str = "2 cores of an AMD EPYC with AVX512-BF16 by `make bench-placement`, \
                           2026-12-06";

/// Measured with `make bench-placement` (bench/placement.py; batch 128, AdamW,
/// channels-last, the steady steps of each run): the medians of
/// bench/results/placement-2026-12-06.json.
const MEASURED: [Measured; 7] = [
    Measured {
        model: "resnet20",
        bn: false,
        precision: Precision::Fp32,
        gain: 1.05,
    },
    Measured {
        model: "resnet20",
        bn: false,
        precision: Precision::Bf16,
        gain: 1.195,
    },
    Measured {
        model: "resnet56",
        bn: false,
        precision: Precision::Fp32,
        gain: 1.115,
    },
    Measured {
        model: "resnet56",
        bn: false,
        precision: Precision::Bf16,
        gain: 1.198,
    },
    Measured {
        model: "resnet110",
        bn: false,
        precision: Precision::Bf16,
        gain: 1.132,
    },
    Measured {
        model: "resnet110",
        bn: true,
        precision: Precision::Bf16,
        gain: 1.111,
    },
    Measured {
        model: "densenet100",
        bn: false,
        precision: Precision::Bf16,
        gain: 1.127,
    },
];

/// How many runs at once and threads per run, and why, in lines to print.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuPlacement {
    pub jobs: usize,
    pub threads: usize,
    pub reasons: Vec<String>,
}

/// Amdahl's parallel fraction of a step that gains `gain` from 2 runs side by side on 2
/// cores: one run on 2 threads takes (1 − p) + p/2 of its 1-thread time, 2 runs side by
/// side do 2 runs in that 1-thread time, so gain = 2·((1 − p) + p/2) = 2 − p.
fn parallel_fraction(gain: f64) -> f64 {
    (2.0 - gain).clamp(0.0, 1.0)
}

/// A run's time on `threads` threads, in units of its time on one (side by side with
/// others: the contention is in the measured gain).
fn run_time(p: f64, threads: usize) -> f64 {
    (1.0 - p) + p / threads as f64
}

/// The parallel fraction of `config`'s step, measured for its model and precision or
/// else taken from the nearest measured one, and a line that says which.
fn step_of(config: &RunConfig) -> (f64, String) {
    let model = &config.model;
    let precision = config.training.precision;
    let exact = MEASURED
        .iter()
        .find(|m| m.model == model.name && m.bn == model.bn && m.precision == precision);
    if let Some(m) = exact {
        let line = format!(
            "  measured: {} {} {}: 2 runs side by side train {:.2}× the images/s of one on 2 \
             threads",
            m.model,
            bn_text(m.bn),
            m.precision.name(),
            m.gain
        );
        return (parallel_fraction(m.gain), line);
    }
    // The nearest in the same family and precision by depth, BN as asked where measured;
    // then any of the family; then, of another family, the one that gains least (the
    // conservative side: fewer runs at once).
    let family = |name: &str| {
        name.trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string()
    };
    let depth = |name: &str| -> i64 {
        name.trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0)
    };
    let wanted = depth(&model.name);
    let candidates = MEASURED
        .iter()
        .filter(|m| family(m.model) == family(&model.name));
    let nearest = candidates
        .min_by_key(|m| {
            (
                m.precision != precision,
                m.bn != model.bn,
                (depth(m.model) - wanted).abs(),
            )
        })
        .or_else(|| MEASURED.iter().min_by(|a, b| a.gain.total_cmp(&b.gain)))
        .expect("MEASURED is not empty");
    let assumed = format!(
        "  assumed: {} {} {} was not measured; taken to gain as {} {} {} does ({:.2}×)",
        model.name,
        bn_text(model.bn),
        precision.name(),
        nearest.model,
        bn_text(nearest.bn),
        nearest.precision.name(),
        nearest.gain
    );
    (parallel_fraction(nearest.gain), assumed)
}

fn bn_text(bn: bool) -> &'static str {
    if bn {
        "BN"
    } else {
        "no BN"
    }
}

/// The sweep's length with `jobs` runs at once on `cores` cores, in units of one run's
/// time on one thread: ⌈runs / jobs⌉ waves of runs on ⌊cores / jobs⌋ threads each.
fn sweep_time(p: f64, runs: usize, cores: usize, jobs: usize) -> f64 {
    runs.div_ceil(jobs) as f64 * run_time(p, (cores / jobs).max(1))
}

/// The placement for `runs` (every run of the plan: counting only those left to do would
/// give a run other threads, and so other bits, when a sweep is resumed) on `cores`
/// cores with `available` bytes of memory (None: not known). `jobs` and `threads` are the
/// user's `--jobs` and `--threads`, which override the rule.
pub fn choose(
    runs: &[&RunConfig],
    cores: usize,
    available: Option<f64>,
    jobs: Option<usize>,
    threads: Option<usize>,
) -> CpuPlacement {
    let cores = cores.max(1);
    if let Some(jobs) = jobs {
        return as_asked(jobs, threads, cores);
    }
    // Each run's step, and where its figure came from (once per model and precision).
    let mut sources = Vec::new();
    let mut p_sum = 0.0;
    for config in runs {
        let (p, source) = step_of(config);
        p_sum += p;
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    let p = if runs.is_empty() {
        1.0
    } else {
        p_sum / runs.len() as f64
    };
    let need = peak_memory(runs);
    let room = available
        .filter(|_| need > 0.0)
        .map(|bytes| ((bytes / need).floor() as usize).max(1));
    let most = threads
        .map_or(cores, |t| (cores / t).max(1))
        .min(runs.len().max(1))
        .min(room.unwrap_or(usize::MAX));
    // The fewest runs at once among the shortest predicted sweeps: fewer at once finish
    // each run sooner, for the same sweep.
    let time = |jobs: usize| sweep_time(p, runs.len(), cores, jobs);
    let best = (1..=most)
        .min_by(|&a, &b| time(a).total_cmp(&time(b)))
        .unwrap_or(1);
    let chosen_threads = threads.unwrap_or((cores / best).max(1));
    let mut reasons = vec![
        format!(
            "placement: {best} run{} at once × {chosen_threads} thread{} each, of {cores} cores \
             (--jobs and --threads override it)",
            plural(best),
            plural(chosen_threads)
        ),
        format!(
            "  why: for these {} runs, predicted {:.2}× the runs per minute of one at a time on \
             {cores} threads (the rule: src/sweep/cpu_placement.rs, measured on {MEASURED_ON})",
            runs.len(),
            time(1) / time(best),
        ),
    ];
    reasons.append(&mut sources);
    if let (Some(bytes), Some(room)) = (available, room) {
        reasons.push(format!(
            "  memory: a run needs up to {:.1} GB (estimated), {:.1} GB available: room for \
             {room}",
            need / 1e9,
            bytes / 1e9,
        ));
    }
    CpuPlacement {
        jobs: best,
        threads: chosen_threads,
        reasons,
    }
}

/// `--jobs` (and `--threads`, else the cores shared out), without the rule.
fn as_asked(jobs: usize, threads: Option<usize>, cores: usize) -> CpuPlacement {
    let chosen = threads.unwrap_or((cores / jobs).max(1));
    CpuPlacement {
        jobs,
        threads: chosen,
        reasons: vec![format!(
            "placement: {jobs} at once × {chosen} thread{}, as --jobs{} asked",
            plural(chosen),
            if threads.is_some() {
                " and --threads"
            } else {
                ""
            }
        )],
    }
}

/// The largest estimated peak memory of a run of `runs` in bytes (0 when none is known).
fn peak_memory(runs: &[&RunConfig]) -> f64 {
    runs.iter()
        .filter_map(|config| {
            let classes = config.data.dataset.kind().num_classes() as i64;
            crate::train::memory::step_estimate(config, classes).ok()
        })
        .map(|(base, parameters, activations)| base + parameters + activations)
        .fold(0.0, f64::max)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(model: &str, bn: bool, precision: Precision) -> RunConfig {
        let mut config = RunConfig::default();
        config.model.name = model.to_string();
        config.model.bn = bn;
        config.training.precision = precision;
        config
    }

    #[test]
    fn the_gain_and_the_parallel_fraction_agree_on_two_cores() {
        for gain in [1.0, 1.19, 1.5] {
            let p = parallel_fraction(gain);
            // 2 runs side by side on 1 thread each against 2 runs in turn on 2 threads.
            let side_by_side = sweep_time(p, 2, 2, 2);
            let in_turn = sweep_time(p, 2, 2, 1);
            assert!((in_turn / side_by_side - gain).abs() < 1e-12, "{gain}");
        }
    }

    #[test]
    fn many_small_runs_go_side_by_side_and_few_runs_keep_the_threads() {
        let config = run("resnet20", false, Precision::Bf16);
        let many: Vec<&RunConfig> = vec![&config; 16];
        let placed = choose(&many, 2, Some(20e9), None, None);
        assert_eq!(
            (placed.jobs, placed.threads),
            (2, 1),
            "{:?}",
            placed.reasons
        );
        assert!(placed.reasons[0].contains("2 runs at once × 1 thread each, of 2 cores"));
        assert!(placed.reasons[2].contains("measured: resnet20 no BN bf16"));
        // 3 runs: 2 side by side then 1 alone on one thread is longer than 3 in turn.
        let three: Vec<&RunConfig> = vec![&config; 3];
        let placed = choose(&three, 2, Some(20e9), None, None);
        assert_eq!(
            (placed.jobs, placed.threads),
            (1, 2),
            "{:?}",
            placed.reasons
        );
        // A single run gets every core.
        let one = choose(&[&config], 8, Some(20e9), None, None);
        assert_eq!((one.jobs, one.threads), (1, 8));
    }

    #[test]
    fn memory_caps_the_runs_at_once_and_says_so() {
        let config = run("resnet20", false, Precision::Bf16);
        let many: Vec<&RunConfig> = vec![&config; 16];
        let classes = 10;
        let (base, parameters, activations) =
            crate::train::memory::step_estimate(&config, classes).unwrap();
        let need = base + parameters + activations;
        let placed = choose(&many, 8, Some(2.5 * need), None, None);
        assert_eq!(placed.jobs, 2, "{:?}", placed.reasons);
        assert!(placed.reasons.iter().any(|r| r.contains("room for 2")));
    }

    #[test]
    fn an_unmeasured_model_says_what_was_assumed() {
        let config = run("densenet250", true, Precision::Fp32);
        let placed = choose(&[&config, &config], 2, None, None, None);
        let assumed: Vec<&String> = placed
            .reasons
            .iter()
            .filter(|r| r.contains("not measured"))
            .collect();
        assert_eq!(assumed.len(), 1, "once per model: {:?}", placed.reasons);
        assert!(assumed[0].starts_with("  assumed: densenet250 BN fp32 was not measured"));
        assert!(assumed[0].contains("densenet100"), "{}", assumed[0]);
    }

    #[test]
    fn jobs_and_threads_override_the_rule() {
        let config = run("resnet20", false, Precision::Bf16);
        let many: Vec<&RunConfig> = vec![&config; 16];
        let placed = choose(&many, 2, None, Some(1), None);
        assert_eq!((placed.jobs, placed.threads), (1, 2));
        assert!(placed.reasons[0].contains("--jobs"));
        // --threads alone bounds the runs at once by the cores it leaves.
        let placed = choose(&many, 4, None, None, Some(4));
        assert_eq!((placed.jobs, placed.threads), (1, 4));
    }
}
