//! A training session tells its observers what happened, in order: every step's
//! statistics once, the evaluations and checkpoints as planned, a stop request and a
//! divergence where they happen; the checks' lanes step side by side on the same batches.
use models::ModelConfig;
use optim::{AdamConfig, DecayMode, Schedule};
use scalefree::data::{Batch, DatasetKind, Loader, LoaderConfig, Split};
use scalefree::train::lockstep::{self, Flow, LaneObserver};
use scalefree::train::{
    Event, GradientHooks, Observer, Plan, RunStatus, Session, SessionData, StopRequest, Trainer,
    TrainerSpec,
};
use tch::{Device, Kind, Tensor};

const IMAGES: usize = 40;
const BATCH: usize = 8;
const STEPS_PER_EPOCH: u64 = (IMAGES / BATCH) as u64;

fn split(n: usize, salt: usize) -> Split {
    Split {
        images: (0..n * 3072)
            .map(|i| ((i * 7 + salt) % 251) as u8)
            .collect(),
        labels: (0..n as i64).map(|i| i % 10).collect(),
        coarse_labels: None,
    }
}

fn loaders() -> (Loader, Loader) {
    let train = LoaderConfig {
        batch_size: BATCH,
        ..LoaderConfig::train(3)
    };
    let eval = LoaderConfig {
        batch_size: 20,
        ..LoaderConfig::test()
    };
    (
        Loader::new(split(IMAGES, 0), DatasetKind::Cifar10, train).unwrap(),
        Loader::new(split(20, 1), DatasetKind::Cifar10, eval).unwrap(),
    )
}

fn trainer(lr: f64, loss_mult: f64) -> Trainer {
    let spec = TrainerSpec {
        model: ModelConfig::new("resnet8", false, 10, 5),
        optimizer: AdamConfig::new(DecayMode::Decoupled, lr, 1e-4).into(),
        kind: Kind::Float,
    };
    Trainer::new(&spec, Device::Cpu)
        .unwrap()
        .with_hooks(GradientHooks {
            loss_mult,
            ..Default::default()
        })
}

fn plan(epochs: u32, lr0: f64) -> Plan {
    Plan {
        epochs,
        steps_per_epoch: STEPS_PER_EPOCH,
        total_steps: epochs as u64 * STEPS_PER_EPOCH,
        lr0,
        schedule: Schedule::Constant,
        eval_every: 1,
        hist_every: 3,
    }
}

/// Every event as a line, and a stop request raised after batch `stop_after` if set.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    stop_after: Option<(u64, StopRequest)>,
}

impl Observer for Log {
    fn observe(&mut self, event: &Event<'_>) -> anyhow::Result<()> {
        let line = match event {
            Event::EpochStarted { epoch, batch } => format!("epoch {epoch} from {batch}"),
            Event::StepRead { step, .. } => format!("read {step}"),
            Event::Progress { .. } | Event::BatchTaken { .. } | Event::EpochEnded => {
                if let (Event::BatchTaken { index }, Some((after, stop))) =
                    (event, &self.stop_after)
                {
                    if index == after {
                        stop.request();
                    }
                }
                return Ok(());
            }
            Event::FactorsFixed { step, .. } => format!("factors {step}"),
            Event::Scales(snapshot) => format!("scales {}", snapshot.step),
            Event::Evaluated(e) => format!("evaluated {} epoch {}", e.step, e.epoch),
            Event::CheckpointDue { position, .. } => {
                format!("checkpoint {} epoch {}", position.step, position.epoch)
            }
            Event::Diverged { step, .. } => format!("diverged {step}"),
            Event::StopRequested { step } => format!("stop {step}"),
            Event::Ended(ending) => format!("ended {:?} {}", ending.status, ending.position.step),
        };
        self.lines.push(line);
        Ok(())
    }
}

fn run(session: &mut Session, log: &mut Log) -> RunStatus {
    let (train, eval) = loaders();
    let data = SessionData {
        train: &train,
        eval: &eval,
        eval_split: "test",
    };
    session.run(&data, &mut [log]).unwrap()
}

fn lines_starting(log: &Log, prefix: &str) -> Vec<String> {
    log.lines
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn a_session_tells_every_step_evaluation_and_checkpoint_once_in_order() {
    let mut session = Session::new(
        trainer(1e-3, 1.0),
        plan(2, 1e-3),
        Device::Cpu,
        StopRequest::default(),
    );
    let mut log = Log::default();
    assert_eq!(run(&mut session, &mut log), RunStatus::Completed);
    let reads: Vec<String> = (1..=10).map(|t| format!("read {t}")).collect();
    assert_eq!(lines_starting(&log, "read "), reads);
    assert_eq!(
        lines_starting(&log, "scales "),
        ["scales 1", "scales 3", "scales 6", "scales 9"]
    );
    let after_reads: Vec<&str> = log
        .lines
        .iter()
        .filter(|l| !l.starts_with("read ") && !l.starts_with("scales "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        after_reads,
        [
            "epoch 0 from 0",
            "evaluated 5 epoch 1",
            "checkpoint 5 epoch 1",
            "epoch 1 from 0",
            "evaluated 10 epoch 2",
            "checkpoint 10 epoch 2",
            "ended Completed 10",
        ]
    );
    // An evaluation comes after the reads of every step before it.
    let position = |line: &str| log.lines.iter().position(|l| l == line).unwrap();
    assert!(position("read 5") < position("evaluated 5 epoch 1"));
    assert!(position("evaluated 5 epoch 1") < position("read 6"));
}

#[test]
fn a_stop_request_ends_the_session_after_its_step_with_a_checkpoint_there() {
    let stop = StopRequest::default();
    let mut session = Session::new(trainer(1e-3, 1.0), plan(2, 1e-3), Device::Cpu, stop.clone());
    let mut log = Log {
        stop_after: Some((2, stop)),
        ..Log::default()
    };
    assert_eq!(run(&mut session, &mut log), RunStatus::Interrupted);
    let events: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| !l.starts_with("read ") && !l.starts_with("scales "))
        .collect();
    assert_eq!(
        events,
        [
            "epoch 0 from 0",
            "stop 3",
            "checkpoint 3 epoch 0",
            "ended Interrupted 3"
        ]
    );
    assert!(lines_starting(&log, "evaluated").is_empty());
    assert_eq!(session.position().step, 3);
}

#[test]
fn a_non_finite_loss_is_told_as_divergence_and_nothing_from_it_on_is_counted() {
    let mut session = Session::new(
        trainer(1e9, 1e30),
        plan(4, 1e9),
        Device::Cpu,
        StopRequest::default(),
    );
    let mut log = Log::default();
    assert_eq!(run(&mut session, &mut log), RunStatus::Diverged);
    let diverged = lines_starting(&log, "diverged ");
    assert_eq!(diverged.len(), 1, "{:?}", log.lines);
    let at: u64 = diverged[0]["diverged ".len()..].parse().unwrap();
    assert_eq!(session.diverged_at(), Some(at));
    let reads: Vec<String> = (1..at).map(|t| format!("read {t}")).collect();
    assert_eq!(lines_starting(&log, "read "), reads);
    assert!(lines_starting(&log, "evaluated").is_empty());
    assert_eq!(
        log.lines.last().unwrap(),
        &format!("ended Diverged {}", at - 1)
    );
}

/// Counts the steps it sees and stops after `stop_at`.
struct Counting {
    seen: Vec<u64>,
    stop_at: u64,
}

impl LaneObserver for Counting {
    fn stepped(&mut self, t: u64, lanes: &mut [Session]) -> anyhow::Result<Flow> {
        assert!(lanes.iter().all(|l| l.position().step == t));
        self.seen.push(t);
        Ok(if t == self.stop_at {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }
}

fn random_batch(i: u64) -> Batch {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _drawing = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(300 + i as i64);
    Batch {
        images: Tensor::randn([8, 3, 32, 32], (Kind::Float, Device::Cpu)),
        labels: Tensor::randint(10, [8], (Kind::Int64, Device::Cpu)),
        epoch: 0,
        index: i as usize,
    }
}

#[test]
fn lanes_step_side_by_side_on_the_same_batches_until_the_check_stops_them() {
    let mut lanes = vec![
        Session::lane(trainer(1e-3, 1.0), 10),
        Session::lane(trainer(1e-3, 1.0), 10),
    ];
    let mut counting = Counting {
        seen: Vec::new(),
        stop_at: 4,
    };
    let mut drawn = 0;
    let next = || {
        drawn += 1;
        Ok(random_batch(drawn))
    };
    let steps = lockstep::run(&mut lanes, 10, next, &mut counting).unwrap();
    assert_eq!(steps, 4);
    assert_eq!(counting.seen, [1, 2, 3, 4]);
    let [a, b] = [0, 1].map(|i| lanes[i].trainer().flat_values());
    assert!(
        a.equal(&b),
        "two identical lanes on the same batches drifted apart"
    );
    let initial = trainer(1e-3, 1.0).flat_values();
    assert!(!a.equal(&initial), "the lanes did not step");
}
