//! The experiment in TensorBoard's own server: a small sweep (a 2 × 2 grid of optimizer ×
//! η₀ with one diverging η₀, 2 seeds, and a gradient-factor intervention, evaluated once
//! at the end as `cifar10-quick` is) shows every run as an HParams session with its
//! settings (integers as integers), status and metrics, the seeds grouped; the summary
//! run's custom-scalars layout, images and text are served, and its values are the means
//! and CIs of the runs' own files; headless Chromium shows the grid's rows and the charts,
//! each compared series in a colour of its own (its own run), none missing a tag, none a
//! single dot; a run killed and resumed twice is one session; an interrupted run has no
//! end until it is resumed; and runs moved aside as stale or found damaged are not
//! sessions of the experiment.
//!
//! The browser test saves its screenshots under the test's folder in target/tmp, and with
//! `SCALEFREE_SCREENSHOTS=<dir>` there as well (how the README's images in docs/ are made).
mod browser;
mod require;
mod tensorboard_support;
mod train_support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tensorboard_support::{last_text, metric, session_groups, sessions, status, Server};
use train_support::{read_json, scalefree, stderr, stdout, write_tiny_cifar10};

const EXPERIMENT: &str = "tb-grid";
const HTTP_TEST: &str =
    "hparams_lists_every_run_with_its_settings_status_and_metrics_grouped_by_seed";
const BROWSER_TEST: &str =
    "headless_chromium_shows_the_grid_and_each_compared_series_in_a_colour_of_its_own";
const RESUME_TEST: &str = "a_run_killed_and_resumed_twice_is_one_session_with_its_final_status";
const INTERRUPTED_TEST: &str =
    "an_interrupted_run_has_no_end_until_resumed_and_a_running_tensorboard_shows_its_final_status";
const WITHDRAWN_TEST: &str =
    "runs_moved_aside_as_stale_or_found_damaged_are_not_sessions_of_the_experiment";

/// The sweep and its report, made once for the tests of this binary.
struct Sweep {
    /// The folder `runs/` is in: TensorBoard starts there, as `make tensorboard` does.
    root: PathBuf,
    runs: PathBuf,
    report: PathBuf,
}

impl Sweep {
    fn folder(&self) -> PathBuf {
        self.runs.join(EXPERIMENT)
    }

    /// The experiment's folder as `make tensorboard EXPERIMENT=tb-grid` names it.
    fn logdir(&self) -> PathBuf {
        PathBuf::from("runs").join(EXPERIMENT)
    }

    fn plan_runs(&self) -> Vec<(String, PathBuf)> {
        let folder = self.folder();
        read_json(&folder.join("plan.json"))["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let name = r["name"].as_str().unwrap().to_string();
                (name, folder.join(r["dir"].as_str().unwrap()))
            })
            .collect()
    }
}

/// 64 tiny images, 2 epochs of 4 steps evaluated once, at the end: Adam-ℓ2 and AdamW at
/// η₀ = 1e-3 and 1e9 (which diverges), and both at 1e-3 with factors `spread:1`, seeds 0
/// and 1: 12 runs.
fn sweep() -> &'static Sweep {
    static SWEEP: OnceLock<Sweep> = OnceLock::new();
    SWEEP.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tensorboard_dashboard");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let data = root.join("data");
        write_tiny_cifar10(&data, 64, 20);
        let experiment = json!({
            "name": EXPERIMENT,
            "description": "a 2 × 2 grid with a diverging step size and an intervention",
            "base": { "data": data, "epochs": 2, "batch_size": 16, "eval_every": 2,
                      "hist_every": 1000, "model": "resnet8", "wd": 0.01 },
            "grids": [
                { "optimizer": ["adam-l2", "adamw"], "lr": [0.001, 1e9], "seed": [0, 1] },
                { "optimizer": ["adam-l2", "adamw"], "grad_factors": ["spread:1"], "seed": [0, 1] }
            ]
        });
        let file = root.join("tb-grid.json");
        std::fs::write(&file, experiment.to_string()).unwrap();
        let runs = root.join("runs");
        let swept = scalefree()
            .arg("sweep")
            .arg(&file)
            .arg("--runs")
            .arg(&runs)
            .args(["--jobs", "2", "--threads", "1", "--device", "cpu"])
            .output()
            .unwrap();
        // Diverged runs make a sweep's exit code 0 as well (they are done).
        assert!(
            swept.status.success(),
            "{}{}",
            stdout(&swept),
            stderr(&swept)
        );
        let report = root.join("report");
        let reported = scalefree()
            .arg("report")
            .arg(EXPERIMENT)
            .arg("--runs")
            .arg(&runs)
            .arg("--out")
            .arg(&report)
            .output()
            .unwrap();
        assert!(reported.status.success(), "{}", stderr(&reported));
        // The runs are not under runs/: the hint says where they are.
        let hint = format!(
            "in TensorBoard: make tensorboard RUNS={} EXPERIMENT=tb-grid",
            runs.display()
        );
        assert!(stdout(&reported).contains(&hint), "{}", stdout(&reported));
        Sweep {
            root,
            runs,
            report: report.join(EXPERIMENT),
        }
    })
}

/// TensorBoard on the experiment's folder, once it has read every session.
fn serve(binary: &Path, folder: &Path, sessions_expected: usize) -> Server {
    serve_in(binary, Path::new("."), folder, sessions_expected)
}

/// [`serve`] started in `cwd` on `folder` (relative to it).
fn serve_in(binary: &Path, cwd: &Path, folder: &Path, sessions_expected: usize) -> Server {
    let server = Server::start_in(binary, cwd, folder);
    let groups = server.wait_for(session_groups, |g| sessions(g).len() >= sessions_expected);
    assert_eq!(
        sessions(&groups).len(),
        sessions_expected,
        "{groups}\n{}",
        server.log_text()
    );
    server
}

fn f32_of(value: &Value) -> f64 {
    value.as_f64().unwrap() as f32 as f64
}

/// Mean and 95 % CI (Student's t) of `values`, computed here from the definition.
fn mean_and_ci(values: &[f64]) -> (f64, f64, f64) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, mean, mean);
    }
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .unwrap()
        .inverse_cdf(0.975);
    let half = t * sd / n.sqrt();
    (mean, mean - half, mean + half)
}

/// The rows of a run's JSON-lines file (`metrics.jsonl`, `losses.jsonl`).
fn rows(run: &Path, file: &str) -> Vec<Value> {
    std::fs::read_to_string(run.join(file))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `[[step, value]]` of a scalar tag of the TensorBoard run `run`, as TensorBoard serves it.
fn summary_scalars(server: &Server, run: &str, tag: &str) -> Vec<(u64, f64)> {
    let path = format!(
        "/data/plugin/scalars/scalars?run={}&tag={}",
        encode(run),
        encode(tag)
    );
    server
        .get(&path)
        .as_array()
        .unwrap_or_else(|| panic!("no scalars for {tag}"))
        .iter()
        .map(|p| (p[1].as_u64().unwrap(), p[2].as_f64().unwrap()))
        .collect()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asserts that a series of the summary's run `run` equals the mean and CI of `per_step`
/// (step → values).
fn assert_estimates(server: &Server, run: &str, tag: &str, per_step: &[(u64, Vec<f64>)]) {
    let [mean, low, high] = [
        summary_scalars(server, run, tag),
        summary_scalars(server, run, &format!("{tag}/ci_low")),
        summary_scalars(server, run, &format!("{tag}/ci_high")),
    ];
    assert_eq!(mean.len(), per_step.len(), "{tag}: {mean:?}");
    for (i, (step, values)) in per_step.iter().enumerate() {
        let (m, lo, hi) = mean_and_ci(values);
        for (series, expected, what) in [
            (&mean, m, "mean"),
            (&low, lo, "ci_low"),
            (&high, hi, "ci_high"),
        ] {
            assert_eq!(series[i].0, *step, "{tag} {what}");
            let close =
                (series[i].1 - expected as f32 as f64).abs() <= 1e-6 * expected.abs().max(1.0);
            assert!(
                close,
                "{tag} {what} at step {step}: {} ≠ {expected}",
                series[i].1
            );
        }
    }
}

/// Values of `key` per step over `runs` (from each run's `file`), in the runs' order.
fn per_step(runs: &[&PathBuf], file: &str, key: &str) -> Vec<(u64, Vec<f64>)> {
    let rows: Vec<Vec<Value>> = runs.iter().map(|r| rows(r, file)).collect();
    let mut steps: Vec<u64> = rows
        .iter()
        .flatten()
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    steps.sort();
    steps.dedup();
    steps
        .into_iter()
        .map(|step| {
            let values = rows
                .iter()
                .filter_map(|rows| rows.iter().find(|r| r["step"] == step))
                .map(|r| r[key].as_f64().unwrap())
                .collect();
            (step, values)
        })
        .collect()
}

#[test]
fn hparams_lists_every_run_with_its_settings_status_and_metrics_grouped_by_seed() {
    let Some(binary) = tensorboard_support::tensorboard(HTTP_TEST) else {
        return;
    };
    let sweep = sweep();
    let planned = sweep.plan_runs();
    assert_eq!(planned.len(), 12);
    let server = serve(&binary, &sweep.folder(), planned.len());

    // The experiment: the swept settings with their values, and the metrics.
    let experiment = server.post(
        "/data/plugin/hparams/experiment",
        &json!({"experimentName": ""}),
    );
    let infos = experiment["hparamInfos"].as_array().unwrap();
    let info = |name: &str| {
        infos
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no setting {name}: {experiment}"))
    };
    assert_eq!(info("lr")["domainDiscrete"], json!([0.001, 1e9]));
    // Integer settings as integers: TensorBoard prints a number to 5 digits (`0.0000`,
    // `16.000`), a string as it is.
    assert_eq!(info("seed")["domainDiscrete"], json!(["0", "1"]));
    assert_eq!(info("batch_size")["domainDiscrete"], json!(["16"]));
    assert_eq!(info("epochs")["domainDiscrete"], json!(["2"]));
    assert_eq!(
        info("optimizer")["domainDiscrete"],
        json!(["adam-l2", "adamw"])
    );
    assert_eq!(
        info("grad_factors")["domainDiscrete"],
        json!(["none", "spread:1"])
    );
    for name in [
        "wd",
        "model",
        "bn",
        "eps",
        "batch_size",
        "epochs",
        "schedule",
    ] {
        info(name);
    }
    let metric_tags: Vec<&str> = experiment["metricInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        metric_tags,
        [
            "test/accuracy",
            "result/test_error_for_heatmap",
            "train/loss",
            "result/grad_log2_spread_at_step_1"
        ]
    );

    // Every run a session, with its status and its own files' values; seeds grouped.
    let groups = session_groups(&server);
    let sessions = sessions(&groups);
    for (name, dir) in &planned {
        let session_name = format!("{name}/tb");
        let (group, session) = sessions
            .iter()
            .find(|(_, s)| s["name"] == session_name.as_str())
            .unwrap_or_else(|| panic!("no session {session_name}: {groups}"));
        let summary = read_json(&dir.join("summary.json"));
        let expected_status = match summary["status"].as_str().unwrap() {
            "completed" => "STATUS_SUCCESS",
            "diverged" => "STATUS_FAILURE",
            other => panic!("{name} ended {other}"),
        };
        assert_eq!(status(session), expected_status, "{name}");
        assert!(!group.contains("_s0") && !group.contains("_s1"), "{group}");
        for (tag, key) in [
            ("test/accuracy", "final_test_accuracy"),
            ("train/loss", "final_train_loss"),
            ("result/test_error_for_heatmap", "test_error_for_heatmap"),
        ] {
            if summary[key].is_null() {
                continue;
            }
            assert_eq!(
                metric(session, tag),
                Some(f32_of(&summary[key])),
                "{name} {tag}"
            );
        }
        let scales = std::fs::read_to_string(dir.join("scales.jsonl")).unwrap();
        let first: Value = serde_json::from_str(scales.lines().next().unwrap()).unwrap();
        assert_eq!(first["step"], 1);
        assert_eq!(
            metric(session, "result/grad_log2_spread_at_step_1"),
            Some(f32_of(&first["grad_spread"]["spread"])),
            "{name}"
        );
    }
    let diverged = planned
        .iter()
        .filter(|(_, d)| read_json(&d.join("summary.json"))["status"] == "diverged")
        .count();
    assert_eq!(
        diverged, 4,
        "η₀ = 1e9 diverges for both optimizers and seeds"
    );
    let groups = groups["sessionGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 6, "one group per lane");
    for group in groups {
        let members = group["sessions"].as_array().unwrap();
        let seed_names: Vec<&str> = members
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(members.len(), 2, "{seed_names:?}");
        assert!(
            seed_names[0].contains("_s0") && seed_names[1].contains("_s1"),
            "{seed_names:?}"
        );
        let heatmap = "result/test_error_for_heatmap";
        let mean =
            (metric(&members[0], heatmap).unwrap() + metric(&members[1], heatmap).unwrap()) / 2.0;
        let shown = metric(group, heatmap).unwrap();
        assert!((shown - mean).abs() < 1e-6, "group mean {shown} ≠ {mean}");
        assert!(group["hparams"]["optimizer"].is_string() && group["hparams"]["lr"].is_number());
        assert_eq!(group["hparams"]["batch_size"], "16", "{group}");
        assert!(
            ["0", "1"].contains(&group["hparams"]["seed"].as_str().unwrap_or_default()),
            "{group}"
        );
    }

    check_summary_run(&server, sweep, &planned);
}

/// The summary run: its layout, text and images are served; its means are those of the
/// runs' own files, each optimizer's in a run of its own beside it (`summary/<optimizer>`);
/// the measures evaluated once (test accuracy, the epoch's training loss) are a table and a
/// bar chart of final values instead of single dots.
fn check_summary_run(server: &Server, sweep: &Sweep, planned: &[(String, PathBuf)]) {
    let layout = server.get("/data/plugin/custom_scalars/layout");
    let categories = layout["category"]
        .as_array()
        .unwrap_or_else(|| panic!("{layout}"));
    let titles: Vec<&str> = categories
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "batch loss: each optimizer at its best setting (mean over seeds, 95 % CI)",
            "claim 4: paired change (intervention − none), 95 % CI",
            "batch loss: every setting both optimizers ran (mean over seeds, 95 % CI)",
            "every run"
        ]
    );
    let charts = |c: &Value| c["chart"].as_array().unwrap().clone();
    // The best settings without and with the intervention, the one claim-4 comparison,
    // the settings both ran with completed runs (η₀ = 1e9 diverged): one series each,
    // which every optimizer's run holds.
    for (category, count) in categories.iter().zip([2, 1, 2]) {
        assert_eq!(charts(category).len(), count, "{category}");
        for chart in charts(category) {
            assert_eq!(
                chart["margin"]["series"].as_array().unwrap().len(),
                1,
                "{chart}"
            );
            assert!(chart["title"].as_str().unwrap().contains(" vs "), "{chart}");
        }
    }
    let runs = server.get("/data/runs");
    for run in ["summary", "summary/adam-l2", "summary/adamw"] {
        assert!(runs.as_array().unwrap().contains(&json!(run)), "{runs}");
    }
    let scalar_tags = server.get("/data/plugin/scalars/tags");
    for run in ["summary/adam-l2", "summary/adamw"] {
        let tags: Vec<&String> = scalar_tags[run].as_object().unwrap().keys().collect();
        assert!(
            tags.iter().all(|t| t.contains("batch_loss")),
            "one evaluation is no curve: {run} has {tags:?}"
        );
    }

    let text_tags = server.get("/data/plugin/text/tags");
    let mut texts: Vec<&str> = text_tags["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            "claim4/rule",
            "claim4/verdict",
            "final/table",
            "report/summary"
        ]
    );
    let verdict = server.get("/data/plugin/text/text?run=summary&tag=claim4%2Fverdict");
    let report = read_json(&sweep.report.join("summary.json"));
    let line = report["claim4"][0]["line"].as_str().unwrap();
    let shown = verdict[0]["text"].as_str().unwrap_or_default();
    let first_words: String = line.chars().take(30).collect();
    assert!(shown.contains(&first_words), "{shown}\nvs {line}");

    let images = server.get("/data/plugin/images/tags");
    let mut image_tags: Vec<String> = images["summary"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    image_tags.sort();
    let mut figures: Vec<String> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "figures/{}",
                f["file"].as_str().unwrap().trim_end_matches(".png")
            )
        })
        .collect();
    assert!(!figures.is_empty());
    figures.push("final/values".into());
    figures.sort();
    assert_eq!(image_tags, figures);

    // Means over seeds and claim 4's paired change, from the runs' own files.
    let dir_of = |name: &str| &planned.iter().find(|(n, _)| n == name).unwrap().1;
    let seeds_of = |lane: &str| [0, 1].map(|seed| dir_of(&format!("{lane}_s{seed}")).clone());
    let adamw = seeds_of("resnet8-nobn_adamw_lr0.001_wd0.01");
    let adam_l2 = seeds_of("resnet8-nobn_adam-l2_lr0.001_wd0.01");
    let adam_l2_spread = [0, 1].map(|seed| {
        dir_of(&format!(
            "resnet8-nobn_adam-l2_lr0.001_wd0.01_s{seed}_gf-spread1"
        ))
        .clone()
    });
    let losses = |dirs: &[PathBuf; 2]| per_step(&[&dirs[0], &dirs[1]], "losses.jsonl", "loss");
    assert_estimates(
        server,
        "summary/adamw",
        "best/resnet8-nobn/batch_loss",
        &losses(&adamw),
    );
    assert_estimates(
        server,
        "summary/adam-l2",
        "lane/resnet8-nobn_lr0.001_wd0.01/batch_loss",
        &losses(&adam_l2),
    );
    let changes: Vec<(u64, Vec<f64>)> = losses(&adam_l2_spread)
        .into_iter()
        .zip(losses(&adam_l2))
        .map(|((step, treated), (_, natural))| {
            (step, vec![treated[0] - natural[0], treated[1] - natural[1]])
        })
        .collect();
    assert_estimates(
        server,
        "summary/adam-l2",
        "claim4/resnet8-nobn-gf-spread1/batch_loss_change",
        &changes,
    );

    // The final values, in the table as in the report.
    let table = last_text(&sweep.folder().join("summary"), "final/table").unwrap();
    let last = |dir: &PathBuf, key: &str| rows(dir, "metrics.jsonl").last().unwrap()[key].clone();
    let accuracy: Vec<f64> = adamw
        .iter()
        .map(|d| last(d, "test_accuracy").as_f64().unwrap())
        .collect();
    let (mean, low, _) = mean_and_ci(&accuracy);
    let shown = format!("{:.2} % ± {:.2}", mean * 100.0, (mean - low) * 100.0);
    assert!(
        table.contains(&shown),
        "no AdamW accuracy {shown} in\n{table}"
    );
    let change: Vec<f64> = (0..2)
        .map(|i| {
            last(&adam_l2_spread[i], "train_loss").as_f64().unwrap()
                - last(&adam_l2[i], "train_loss").as_f64().unwrap()
        })
        .collect();
    let (mean, _, _) = mean_and_ci(&change);
    let shown = format!("{mean:+.4}");
    assert!(
        table.contains(&shown),
        "no Adam-ℓ2 change {shown} in\n{table}"
    );
}

/// What the custom-scalars page draws of a margin chart, asked as the page asks it
/// (tf-custom-scalar-margin-chart-card): for each run, the chart's tags as one regex; a
/// series is drawn for a run holding its value, lower and upper tags, in the run's colour
/// (the page colours by run, and only tells a run's series apart by their dots' shapes);
/// a run holding some of the chart's tags but not all, unless it misses exactly three, is
/// listed under "Missing Tags".
#[derive(Debug, Default)]
struct MarginView {
    /// (run, value tag, steps drawn)
    drawn: Vec<(String, String, usize)>,
    /// (run, the tags it lacks) as "Missing Tags" lists them.
    missing: Vec<(String, Vec<String>)>,
}

fn margin_view(server: &Server, runs: &[String], chart: &Value) -> MarginView {
    let series = chart["margin"]["series"].as_array().unwrap();
    let tags = |s: &Value| ["value", "lower", "upper"].map(|k| s[k].as_str().unwrap().to_string());
    let escape = |t: &str| {
        t.chars()
            .map(|c| match c {
                '.' | '*' | '+' | '?' | '^' | '$' | '{' | '}' | '(' | ')' | '|' | '[' | ']'
                | '\\' => format!("\\{c}"),
                _ => c.to_string(),
            })
            .collect::<String>()
    };
    let regex: Vec<String> = series
        .iter()
        .flat_map(tags)
        .map(|t| format!("({})", escape(&t)))
        .collect();
    let mut view = MarginView::default();
    for run in runs {
        let path = format!(
            "/data/plugin/custom_scalars/scalars?run={}&tag={}",
            encode(run),
            encode(&regex.join("|"))
        );
        let answer = server.get(&path);
        assert_eq!(answer["regex_valid"], true, "{path}: {answer}");
        let events = &answer["tag_to_events"];
        let mut lacks = Vec::new();
        for s in series {
            let [value, lower, upper] = tags(s);
            let absent: Vec<String> = [&value, &lower, &upper]
                .into_iter()
                .filter(|t| events.get(t.as_str()).is_none())
                .cloned()
                .collect();
            if absent.is_empty() {
                let steps = events[value.as_str()].as_array().unwrap().len();
                view.drawn.push((run.clone(), value, steps));
            }
            lacks.extend(absent);
        }
        if !lacks.is_empty() && lacks.len() != 3 {
            view.missing.push((run.clone(), lacks));
        }
    }
    view
}

#[test]
fn headless_chromium_shows_the_grid_and_each_compared_series_in_a_colour_of_its_own() {
    let (Some(binary), Some(browser)) = (
        tensorboard_support::tensorboard(BROWSER_TEST),
        browser::chromium(BROWSER_TEST),
    ) else {
        return;
    };
    let sweep = sweep();
    // Started as `make tensorboard EXPERIMENT=tb-grid` starts it: the page names the
    // folder `runs/tb-grid`, not where this machine keeps it.
    let server = serve_in(
        &binary,
        &sweep.root,
        &sweep.logdir(),
        sweep.plan_runs().len(),
    );

    // HParams' table: a row per session group (a lane), named after it.
    let groups = session_groups(&server);
    let mut wanted: Vec<String> = groups["sessionGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(wanted.len(), 6);
    // The swept settings are among the columns it shows.
    wanted.extend(["Trial ID", "grad_factors", "optimizer", "seed"].map(String::from));
    let url = |dashboard: &str| format!("{}/#{dashboard}", server.url);
    let hparams = browser::deep_text(&browser, &url("hparams"), &wanted, 90);
    let table = &hparams[hparams.find("Trial ID").unwrap_or(0)..];
    for word in &wanted {
        assert!(
            table.contains(word.as_str()),
            "HParams' table shows no {word}:\n{hparams}"
        );
    }
    assert!(
        !hparams.contains("16.000"),
        "an integer shown as a float:\n{hparams}"
    );

    // Every chart as the page draws it, every run selected (the page's default): each
    // compared series in a run (a colour) of its own, no tag missing, and a curve where
    // there is one (a single evaluation is a table and a bar chart instead).
    let runs: Vec<String> = server
        .get("/data/runs")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let layout = server.get("/data/plugin/custom_scalars/layout");
    let charts: Vec<Value> = layout["category"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["chart"].as_array().unwrap().clone())
        .collect();
    for chart in charts.iter().filter(|c| c.get("margin").is_some()) {
        let title = chart["title"].as_str().unwrap();
        let view = margin_view(&server, &runs, chart);
        assert!(
            view.missing.is_empty(),
            "{title:?} lists Missing Tags: {:?}",
            view.missing
        );
        let colours: Vec<&str> = view.drawn.iter().map(|d| d.0.as_str()).collect();
        let mut distinct = colours.clone();
        distinct.sort();
        distinct.dedup();
        let compared = title.matches(" vs ").count() + 1;
        assert!(
            colours.len() == compared && distinct.len() == colours.len(),
            "{title:?}: its {compared} compared series are drawn in the colours of runs {colours:?}"
        );
        for (run, tag, steps) in &view.drawn {
            assert!(*steps >= 2, "{title:?}: {tag} of {run} is a single dot");
        }
    }
    let titles: Vec<String> = charts
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    let shown = browser::deep_text(&browser, &url("custom_scalars"), &titles, 90);
    for title in &titles {
        assert!(
            shown.contains(title.as_str()),
            "custom scalars shows no chart {title:?}:\n{shown}"
        );
    }
    assert!(!shown.contains("Missing Tags"), "{shown}");

    // The screenshots: the grid, and the summary's charts with every run selected (the
    // page's default), unsmoothed (its values are means already); and the bar chart of
    // the final values as TensorBoard serves it (the images dashboard shows it full size
    // when clicked).
    let images = server.get("/data/plugin/images/images?run=summary&tag=final%2Fvalues");
    let query = images[0]["query"].as_str().unwrap();
    let mut served = ureq::get(format!(
        "{}/data/plugin/images/individualImage?{query}",
        server.url
    ))
    .call()
    .unwrap();
    let final_values = served.body_mut().read_to_vec().unwrap();
    let mut dirs = vec![sweep.root.join("screenshots")];
    dirs.extend(std::env::var_os("SCALEFREE_SCREENSHOTS").map(PathBuf::from));
    for dir in dirs {
        std::fs::create_dir_all(&dir).unwrap();
        for (dashboard, file, size) in [
            ("hparams", "tensorboard-hparams.png", (1400, 900)),
            (
                "custom_scalars&_smoothingWeight=0",
                "tensorboard-summary-run.png",
                (1400, 1150),
            ),
        ] {
            let png = dir.join(file);
            browser::screenshot(&browser, &url(dashboard), 20_000, &png, size);
        }
        std::fs::write(dir.join("tensorboard-final-values.png"), &final_values).unwrap();
    }
}

#[test]
fn a_run_killed_and_resumed_twice_is_one_session_with_its_final_status() {
    let Some(binary) = tensorboard_support::tensorboard(RESUME_TEST) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 96, 20);
    let logdir = dir.path().join("runs");
    let out = logdir.join("run");
    // 3 steps per epoch, 3 epochs. The test hook (src/fault.rs) stops the first process
    // with SIGTERM at its 2nd step (interrupted, checkpointed) and kills the second with
    // SIGKILL at its 2nd step (step 4: no summary, back to the checkpoint at step 3).
    let flags = [
        "--model",
        "resnet8",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--hist-every",
        "1000",
    ];
    let resume = [&flags[..], &["--resume"]].concat();
    for (fault, extra, code) in [
        ("step:2:TERM", &flags[..], Some(130)),
        ("step:2", &resume[..], None),
    ] {
        let stopped = train_support::train_with_fault(&data, &out, fault, extra);
        assert_eq!(stopped.status.code(), code, "{fault}: {}", stderr(&stopped));
    }
    let resumed = train_support::train(&data, &out, &resume);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["status"], "completed");

    let server = serve(&binary, &logdir, 1);
    let groups = session_groups(&server);
    let sessions = sessions(&groups);
    assert_eq!(sessions.len(), 1, "{groups}");
    let session = &sessions[0].1;
    assert_eq!(session["name"], "run/tb");
    assert_eq!(status(session), "STATUS_SUCCESS", "{session}");
    assert_eq!(
        metric(session, "test/accuracy"),
        Some(f32_of(&summary["final_test_accuracy"]))
    );
    let events = std::fs::read_dir(out.join("tb")).unwrap().count();
    assert_eq!(
        events, 4,
        "three processes' event files and the last one's session end"
    );
}

/// The `.session_end` files of a run's `tb/`.
fn session_ends(run: &Path) -> usize {
    std::fs::read_dir(run.join("tb"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".session_end"))
        .count()
}

#[test]
fn an_interrupted_run_has_no_end_until_resumed_and_a_running_tensorboard_shows_its_final_status() {
    let Some(binary) = tensorboard_support::tensorboard(INTERRUPTED_TEST) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let logdir = dir.path().join("runs");
    let out = logdir.join("run");
    let flags = [
        "--model",
        "resnet8",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--hist-every",
        "1000",
    ];
    // Stopped with SIGTERM at its 2nd step: interrupted, checkpointed, to be resumed.
    let stopped = train_support::train_with_fault(&data, &out, "step:2:TERM", &flags);
    assert_eq!(stopped.status.code(), Some(130), "{}", stderr(&stopped));
    assert_eq!(
        read_json(&out.join("summary.json"))["status"],
        "interrupted"
    );
    assert_eq!(session_ends(&out), 0, "an interrupted run has not ended");

    // TensorBoard has no word for a run that will go on: Unknown, as a run still training.
    let server = serve(&binary, &logdir, 1);
    let groups = session_groups(&server);
    assert_eq!(
        status(&sessions(&groups)[0].1),
        "STATUS_UNKNOWN",
        "{groups}"
    );

    // Resumed to its end while that TensorBoard runs: it shows the final status.
    let resume = [&flags[..], &["--resume"]].concat();
    let resumed = train_support::train(&data, &out, &resume);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let ended = |g: &Value| {
        let sessions = sessions(g);
        sessions.len() == 1 && status(&sessions[0].1) == "STATUS_SUCCESS"
    };
    let groups = server.wait_for(session_groups, ended);
    assert!(ended(&groups), "{groups}\n{}", server.log_text());
    assert_eq!(session_ends(&out), 1);
}

/// The HParams sessions TensorBoard finds in `folder`, by name, each with its status.
fn session_names(binary: &Path, folder: &Path, expected: usize) -> Vec<(String, String)> {
    let server = Server::start(binary, folder);
    server.wait_for(session_groups, |g| sessions(g).len() >= expected);
    // TensorBoard may still be reading: a few more seconds for any session beyond.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let groups = session_groups(&server);
    let mut names: Vec<(String, String)> = sessions(&groups)
        .into_iter()
        .map(|(_, s)| {
            (
                s["name"].as_str().unwrap().to_string(),
                status(&s).to_string(),
            )
        })
        .collect();
    names.sort();
    names
}

#[test]
fn runs_moved_aside_as_stale_or_found_damaged_are_not_sessions_of_the_experiment() {
    let Some(binary) = tensorboard_support::tensorboard(WITHDRAWN_TEST) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_tiny_cifar10(&data, 64, 20);
    let file = dir.path().join("aside.json");
    let runs = dir.path().join("runs");
    let sweep = |batch_size: u32, extra: &[&str]| {
        let experiment = json!({
            "name": "aside",
            "description": "two runs",
            "base": { "data": data, "epochs": 1, "batch_size": batch_size, "hist_every": 0,
                      "model": "resnet8" },
            "grids": [ { "optimizer": ["adam-l2", "adamw"] } ]
        });
        std::fs::write(&file, experiment.to_string()).unwrap();
        let swept = scalefree()
            .arg("sweep")
            .arg(&file)
            .arg("--runs")
            .arg(&runs)
            .args(["--threads", "1", "--device", "cpu"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            swept.status.success(),
            "{}{}",
            stdout(&swept),
            stderr(&swept)
        );
        stdout(&swept)
    };
    sweep(32, &[]);
    // The experiment edited, its runs redone: the old ones move to stale/.
    let out = sweep(16, &["--redo-stale"]);
    assert!(out.contains("moved to"), "{out}");
    let folder = runs.join("aside");
    let names: Vec<String> = read_json(&folder.join("plan.json"))["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert_eq!(std::fs::read_dir(folder.join("stale")).unwrap().count(), 2);
    // One of the new runs damaged, as `sweep status` then finds it.
    let summary = folder.join(&names[0]).join("summary.json");
    let intact = std::fs::read(&summary).unwrap();
    std::fs::write(&summary, "{\"status\": \"compl").unwrap();
    let status_of = |what: &str| {
        let shown = scalefree()
            .args(["sweep", "status"])
            .arg(&file)
            .arg("--runs")
            .arg(&runs)
            .output()
            .unwrap();
        assert!(shown.status.success(), "{what}: {}", stderr(&shown));
        stdout(&shown)
    };
    assert!(status_of("damaged").contains("1 damaged"));

    // HParams: the intact run alone, neither the stale runs nor the damaged one.
    let intact_session = (format!("{}/tb", names[1]), "STATUS_SUCCESS".to_string());
    assert_eq!(
        session_names(&binary, &folder, 1),
        std::slice::from_ref(&intact_session)
    );

    // Its summary put back, the damaged run is a session again.
    std::fs::write(&summary, intact).unwrap();
    assert!(status_of("restored").contains("2 completed"));
    let restored = (format!("{}/tb", names[0]), "STATUS_SUCCESS".to_string());
    let mut both = vec![restored, intact_session];
    both.sort();
    assert_eq!(session_names(&binary, &folder, 2), both);
}
