//! `scalefree train`: data → model → loss (× multiplier) → backward → optimizer step →
//! sinks (TensorBoard, metrics.jsonl, scales.jsonl, summary.json, checkpoints).
use super::atomic::write_json_atomic;
use super::checkpoint::{self, TrainerState};
use super::metrics::{read_metrics, write_metrics, MetricsRow, RunStatus, Summary};
use super::scale_log::{read_scale_rows, ScaleLogger};
use super::step_timing::{StepTimer, StepTiming};
use super::tensorboard::Board;
use crate::cli::TrainArgs;
use crate::config::{parse_device, RunConfig};
use crate::data::{self, shuffled_order, Loader, LoaderConfig};
use crate::info::Environment;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use models::{LayerKind, Model, ModelConfig};
use optim::Adam;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::nn::{ModuleT, VarStore};
use tch::{Kind, Tensor};

/// How a run ended, and where it wrote.
pub struct Outcome {
    pub status: RunStatus,
    pub run_dir: PathBuf,
}

/// Fields a resumed run may change: where and how fast it runs, and how far it goes.
const CHANGEABLE_ON_RESUME: [&str; 5] = ["device", "threads", "epochs", "max_steps", "out"];

fn check_resume_compatible(stored: &RunConfig, requested: &RunConfig) -> Result<()> {
    let (a, b) = (
        serde_json::to_value(stored)?,
        serde_json::to_value(requested)?,
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Ok(());
    };
    for (field, value) in a {
        if !CHANGEABLE_ON_RESUME.contains(&field.as_str()) && b.get(field) != Some(value) {
            bail!(
                "cannot resume with `{field}` = {}: the run was started with {value}; \
                 only {} may change on resume",
                b.get(field).cloned().unwrap_or_default(),
                CHANGEABLE_ON_RESUME.join(", ")
            );
        }
    }
    Ok(())
}

/// Reads the flags (and run file), and refuses a run directory that holds another run.
fn resolve_config(args: &TrainArgs) -> Result<RunConfig> {
    let mut config = args.effective_config(None)?;
    let stored_path = config.run_dir().join("config.json");
    if args.resume && stored_path.exists() {
        let stored = RunConfig::from_file(&stored_path)?;
        if args.config.is_none() {
            config = args.effective_config(Some(stored.clone()))?;
        }
        check_resume_compatible(&stored, &config)?;
    } else if !args.resume && !args.print_config && stored_path.exists() {
        bail!(
            "{} already holds a run; pass --resume to continue it, or --name/--out for a new one",
            config.run_dir().display()
        );
    }
    Ok(config)
}

fn set_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        tch::set_num_threads(n as i32);
        // Only the first call in a process can size rayon's global pool.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}

/// Sums over batches: loss (of the un-multiplied loss), correct predictions, images.
#[derive(Default)]
struct Tally {
    loss_sum: f64,
    correct: f64,
    seen: f64,
}

impl Tally {
    fn mean_loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1.0)
    }
    fn accuracy(&self) -> f64 {
        self.correct / self.seen.max(1.0)
    }
}

fn correct(logits: &Tensor, labels: &Tensor) -> f64 {
    logits
        .argmax(-1, false)
        .eq_tensor(labels)
        .sum(Kind::Float)
        .double_value(&[])
}

fn evaluate(model: &Model, loader: &Loader) -> Result<Tally> {
    let _no_grad = tch::no_grad_guard();
    let mut tally = Tally::default();
    for batch in loader.epoch(0) {
        let batch = batch?;
        let logits = model.forward_t(&batch.images, false);
        let n = batch.len() as f64;
        tally.loss_sum += logits
            .cross_entropy_for_logits(&batch.labels)
            .double_value(&[])
            * n;
        tally.correct += correct(&logits, &batch.labels);
        tally.seen += n;
    }
    Ok(tally)
}

fn progress_bar(quiet: bool, epoch: u32, epochs: u32, len: u64, pos: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len)
        .with_position(pos)
        .with_prefix(format!("epoch {}/{epochs}", epoch + 1));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

struct Data {
    train: Loader,
    eval: Loader,
    eval_name: &'static str,
    classes: i64,
}

fn load_data(config: &RunConfig, device: tch::Device) -> Result<Data> {
    let kind = config.dataset.kind();
    let source = config.data_source();
    if !source.exists() {
        bail!(
            "dataset not found at {} (field `data`); run `make data` (or `make data DATASET={}`), \
             or pass --data with an official CIFAR directory/archive or an image-folder tree/archive",
            source.display(),
            kind.name()
        );
    }
    let cache_dir = std::env::var_os("SCALEFREE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(data::default_cache_dir);
    let dataset = data::load(kind, &source, Some(&cache_dir))
        .with_context(|| format!("loading {} from {}", kind.name(), source.display()))?;
    let (mut train, eval, eval_name) = if config.val_fraction > 0.0 {
        let (train, val) = dataset.split_validation(config.val_fraction, config.seed)?;
        (train, val, "validation")
    } else {
        (dataset.train.clone(), dataset.test.clone(), "test")
    };
    if let Some(n) = config.train_subset {
        // A stream of the shuffle no epoch uses, so the subset is independent of epoch orders.
        let order = shuffled_order(train.len(), config.seed, u64::MAX);
        train = train.subset(&order[..n.min(train.len())]);
    }
    let train_config = LoaderConfig {
        batch_size: config.batch_size,
        device,
        ..LoaderConfig::train(config.seed)
    };
    let eval_config = LoaderConfig {
        batch_size: 500,
        device,
        ..LoaderConfig::test()
    };
    Ok(Data {
        train: Loader::new(train, kind, train_config)?,
        eval: Loader::new(eval, kind, eval_config)?,
        eval_name,
        classes: dataset.classes.len() as i64,
    })
}

/// Runs (or resumes) the training run described by `args`.
pub fn run(args: &TrainArgs) -> Result<Outcome> {
    let config = resolve_config(args)?;
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(Outcome {
            status: RunStatus::Completed,
            run_dir: config.run_dir(),
        });
    }
    let run_dir = config.run_dir();
    let quiet = args.quiet || !std::io::stdout().is_terminal();
    set_threads(config.threads);
    let device = parse_device(&config.device)?;
    let data = load_data(&config, device)?;

    let vs = VarStore::new(device);
    let model = Model::new(
        &vs.root(),
        &ModelConfig::new(&config.model, config.bn, data.classes, config.seed)
            .with_channels_last(config.layout.channels_last_on(device)),
    )?;
    // The paper decays every parameter, BN and biases included.
    let mut opt = Adam::from_var_store(config.adam_config(), &vs)?;

    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let metrics_path = run_dir.join("metrics.jsonl");
    let scales_path = run_dir.join("scales.jsonl");
    let mut state = TrainerState::default();
    let mut rows = Vec::new();
    let mut scale_rows = Vec::new();
    let mut resumed_after = None;
    if args.resume {
        match checkpoint::latest(&run_dir) {
            Some(dir) => {
                state = checkpoint::load(&dir, &vs, &mut opt)?;
                rows = read_metrics(&metrics_path)?
                    .into_iter()
                    .filter(|r| r.step <= state.step)
                    .collect();
                scale_rows = read_scale_rows(&scales_path)?
                    .into_iter()
                    .filter(|r| r.step <= state.step)
                    .collect();
                resumed_after = Some(state.step);
                eprintln!(
                    "resuming {} at epoch {}, step {}",
                    run_dir.display(),
                    state.epoch + 1,
                    state.step
                );
            }
            None => eprintln!(
                "no checkpoint in {}; starting from the beginning",
                run_dir.display()
            ),
        }
    }
    write_json_atomic(&run_dir.join("config.json"), &config)?;
    write_json_atomic(&run_dir.join("environment.json"), &Environment::detect())?;

    let steps_per_epoch = data.train.batches_per_epoch() as u64;
    let total_steps =
        (config.epochs as u64 * steps_per_epoch).min(config.max_steps.unwrap_or(u64::MAX));
    let schedule = config.schedule(steps_per_epoch, total_steps);
    let mut board = Board::open(&run_dir.join("tb"), resumed_after)?;
    let mut scales = ScaleLogger::new(
        &opt,
        config.hist_every,
        scales_path,
        scale_rows,
        |name| models::layer_kind(name) == Some(LayerKind::BatchNorm),
        |name| models::layer_name(name).to_string(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Fails only if a handler is already installed (a second run in this process).
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }

    let started = Instant::now();
    let mut status = RunStatus::Completed;
    let mut message = None;
    let mut train_seconds = 0.0;
    let mut images_this_process = 0u64;
    let mut timer = StepTimer::default();
    while state.epoch < config.epochs && state.step < total_steps {
        let bar = progress_bar(
            quiet,
            state.epoch,
            config.epochs,
            steps_per_epoch,
            state.batch,
        );
        let epoch_started = Instant::now();
        timer.resume();
        for batch in data
            .train
            .epoch_from(state.epoch as u64, state.batch as usize)
        {
            let batch = batch?;
            let t = state.step + 1;
            opt.set_lr(schedule.lr_at(config.lr, state.step))?;
            let logits = model.forward_t(&batch.images, true);
            let loss = logits.cross_entropy_for_logits(&batch.labels);
            let loss_value = loss.double_value(&[]);
            if !loss_value.is_finite() {
                status = RunStatus::Diverged;
                message = Some(format!("loss became {loss_value} at step {t}"));
                break;
            }
            opt.zero_grad();
            if config.loss_mult == 1.0 {
                loss.backward()
            } else {
                (&loss * config.loss_mult).backward()
            }
            let log_scales = scales.due(t);
            let mut logging = Duration::ZERO;
            if log_scales {
                let started = Instant::now();
                scales.before_step(&mut opt)?;
                logging += started.elapsed();
            }
            opt.step()?;
            if log_scales {
                let started = Instant::now();
                scales.after_step(&opt, &mut board, t, state.epoch)?;
                timer.scale_log_took(logging + started.elapsed());
            }
            let n = batch.len() as f64;
            state.step = t;
            state.batch += 1;
            state.epoch_loss_sum += loss_value * n;
            state.epoch_correct += correct(&logits, &batch.labels);
            state.epoch_seen += n;
            state.images_seen += batch.len() as u64;
            images_this_process += batch.len() as u64;
            timer.step_done(batch.len());
            if t % 20 == 0 || t == 1 {
                board.scalar("train/batch_loss", loss_value, t);
            }
            bar.set_position(state.batch);
            bar.set_message(format!(
                "loss {:.4} acc {:.3}",
                state.epoch_loss_sum / state.epoch_seen,
                state.epoch_correct / state.epoch_seen
            ));
            if stop.load(Ordering::SeqCst) {
                status = RunStatus::Interrupted;
                break;
            }
            if state.step >= total_steps {
                break;
            }
        }
        bar.finish_and_clear();
        let epoch_seconds = epoch_started.elapsed().as_secs_f64();
        train_seconds += epoch_seconds;
        if status != RunStatus::Completed {
            break;
        }
        let epoch_finished = state.batch >= steps_per_epoch;
        let last =
            state.step >= total_steps || (epoch_finished && state.epoch + 1 >= config.epochs);
        if epoch_finished || last {
            // eval_every 0: never (benchmarks time training alone).
            let evaluate_now =
                config.eval_every > 0 && (last || (state.epoch + 1) % config.eval_every == 0);
            if evaluate_now {
                let train_tally = Tally {
                    loss_sum: state.epoch_loss_sum,
                    correct: state.epoch_correct,
                    seen: state.epoch_seen,
                };
                let eval = evaluate(&model, &data.eval)?;
                let row = MetricsRow {
                    epoch: state.epoch + 1,
                    step: state.step,
                    train_loss: train_tally.mean_loss(),
                    train_accuracy: train_tally.accuracy(),
                    eval_split: data.eval_name.to_string(),
                    test_loss: eval.mean_loss(),
                    test_accuracy: eval.accuracy(),
                    lr: opt.lr(),
                    wall_s: state.wall_s + started.elapsed().as_secs_f64(),
                    images_per_s: images_this_process as f64 / train_seconds.max(1e-9),
                };
                log_row(&mut board, &row);
                if quiet {
                    println!(
                        "epoch {:>3}/{} step {:>6}  train loss {:.4} acc {:.4}  {} loss {:.4} acc {:.4}  lr {:.2e}  {:.0} img/s",
                        row.epoch, config.epochs, row.step, row.train_loss, row.train_accuracy, row.eval_split,
                        row.test_loss, row.test_accuracy, row.lr, row.images_per_s
                    );
                }
                state.best_test_accuracy = Some(
                    state
                        .best_test_accuracy
                        .unwrap_or(0.0)
                        .max(row.test_accuracy),
                );
                rows.push(row);
                write_metrics(&metrics_path, &rows)?;
                board.flush();
            }
            if epoch_finished {
                state.epoch += 1;
                state.batch = 0;
                state.epoch_loss_sum = 0.0;
                state.epoch_correct = 0.0;
                state.epoch_seen = 0.0;
            }
            save_checkpoint(&run_dir, &vs, &opt, &state, &started)?;
        }
    }
    if status == RunStatus::Interrupted {
        save_checkpoint(&run_dir, &vs, &opt, &state, &started)?;
        message = Some(format!(
            "interrupted at step {}; `--resume` continues from here",
            state.step
        ));
    }
    board.flush();
    let summary = summarise(
        status,
        message,
        &rows,
        &state,
        state.wall_s + started.elapsed().as_secs_f64(),
        images_this_process as f64 / train_seconds.max(1e-9),
        timer.timing(),
    );
    summary.write(&run_dir.join("summary.json"))?;
    Ok(Outcome { status, run_dir })
}

fn save_checkpoint(
    run_dir: &Path,
    vs: &VarStore,
    opt: &Adam,
    state: &TrainerState,
    started: &Instant,
) -> Result<()> {
    let mut saved = state.clone();
    saved.wall_s += started.elapsed().as_secs_f64();
    checkpoint::save(run_dir, vs, opt, &saved)
}

fn log_row(board: &mut Board, row: &MetricsRow) {
    board.scalar("train/loss", row.train_loss, row.step);
    board.scalar("train/accuracy", row.train_accuracy, row.step);
    board.scalar(&format!("{}/loss", row.eval_split), row.test_loss, row.step);
    board.scalar(
        &format!("{}/accuracy", row.eval_split),
        row.test_accuracy,
        row.step,
    );
    board.scalar("opt/lr", row.lr, row.step);
    board.scalar("perf/images_per_s", row.images_per_s, row.step);
}

fn summarise(
    status: RunStatus,
    message: Option<String>,
    rows: &[MetricsRow],
    state: &TrainerState,
    wall_s: f64,
    images_per_s: f64,
    timing: StepTiming,
) -> Summary {
    let last = rows.last();
    let final_test_accuracy = last.map(|r| r.test_accuracy);
    Summary {
        status,
        final_test_accuracy,
        best_test_accuracy: rows.iter().map(|r| r.test_accuracy).reduce(f64::max),
        final_test_loss: last.map(|r| r.test_loss),
        final_train_loss: last.map(|r| r.train_loss),
        final_train_accuracy: last.map(|r| r.train_accuracy),
        epochs_done: state.epoch,
        steps_done: state.step,
        wall_s,
        images_per_s,
        test_error_for_heatmap: match status {
            RunStatus::Diverged => Some(1.1),
            _ => final_test_accuracy.map(|a| 1.0 - a),
        },
        message,
        timing: Some(timing),
    }
}
