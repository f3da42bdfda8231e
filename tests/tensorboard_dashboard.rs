//! The experiment in TensorBoard's own server: a small sweep (a 2 × 2 grid of optimizer ×
//! η₀ with one diverging η₀, 2 seeds, and a gradient-factor intervention) shows every run
//! as an HParams session with its settings, status and metrics, the seeds grouped; the
//! summary run's custom-scalars layout, images and text are served, and its values are
//! the means and CIs of the runs' own files; headless Chromium shows the grid's rows and
//! the charts' titles; and a run killed and resumed twice is one session.
//!
//! `SCALEFREE_SCREENSHOTS=<dir>` makes the browser test save the dashboards as PNGs there
//! (how the README's images in docs/ were made).
mod browser;
mod require;
mod tensorboard_support;
mod train_support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tensorboard_support::{metric, session_groups, sessions, status, Server};
use train_support::{read_json, scalefree, stderr, stdout, write_tiny_cifar10};

const EXPERIMENT: &str = "tb-grid";
const HTTP_TEST: &str =
    "hparams_lists_every_run_with_its_settings_status_and_metrics_grouped_by_seed";
const BROWSER_TEST: &str = "headless_chromium_shows_the_grid_rows_and_the_chart_titles";
const RESUME_TEST: &str = "a_run_killed_and_resumed_twice_is_one_session_with_its_final_status";

/// The sweep and its report, made once for the tests of this binary.
struct Sweep {
    runs: PathBuf,
    report: PathBuf,
}

impl Sweep {
    fn folder(&self) -> PathBuf {
        self.runs.join(EXPERIMENT)
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

/// 64 tiny images, 2 epochs of 2 steps: Adam-ℓ2 and AdamW at η₀ = 1e-3 and 1e9 (which
/// diverges), and both at 1e-3 with factors `spread:1`, seeds 0 and 1: 12 runs.
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
            "base": { "data": data, "epochs": 2, "batch_size": 32, "hist_every": 1000,
                      "model": "resnet8", "wd": 0.0001 },
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
        assert!(
            stdout(&reported).contains("in TensorBoard: make tensorboard EXPERIMENT=tb-grid"),
            "{}",
            stdout(&reported)
        );
        Sweep {
            runs,
            report: report.join(EXPERIMENT),
        }
    })
}

/// TensorBoard on the experiment's folder, once it has read every session.
fn serve(binary: &Path, folder: &Path, sessions_expected: usize) -> Server {
    let server = Server::start(binary, folder);
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

/// `[[step, value]]` of a scalar tag of the summary run, as TensorBoard serves it.
fn summary_scalars(server: &Server, tag: &str) -> Vec<(u64, f64)> {
    let path = format!(
        "/data/plugin/scalars/scalars?run=summary&tag={}",
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

/// Asserts that a summary series equals the mean and CI of `per_step` (step → values).
fn assert_estimates(server: &Server, tag: &str, per_step: &[(u64, Vec<f64>)]) {
    let [mean, low, high] = [
        summary_scalars(server, tag),
        summary_scalars(server, &format!("{tag}/ci_low")),
        summary_scalars(server, &format!("{tag}/ci_high")),
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
    assert_eq!(info("seed")["domainDiscrete"], json!([0.0, 1.0]));
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
    }

    check_summary_run(&server, sweep, &planned);
}

/// The summary run: its layout, text and images are served, and its lanes' values are
/// the mean and CI over seeds of the runs' own metrics.
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
            "test accuracy: mean over seeds, 95 % CI",
            "training loss (epoch mean): mean over seeds, 95 % CI",
            "batch loss: mean over seeds, 95 % CI",
            "claim 4: paired change (intervention − none), 95 % CI",
            "every run"
        ]
    );
    let chart_titles = |c: &Value| -> Vec<String> {
        c["chart"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ch| ch["title"].as_str().unwrap().to_string())
            .collect()
    };
    // Settings with completed runs charted with the optimizers side by side: η₀ = 1e-3
    // without and with the intervention (η₀ = 1e9 diverged, so it has no mean).
    assert_eq!(
        chart_titles(&categories[0]).len(),
        2,
        "{:?}",
        chart_titles(&categories[0])
    );
    for chart in categories[0]["chart"].as_array().unwrap() {
        let series = chart["margin"]["series"].as_array().unwrap();
        assert_eq!(series.len(), 2, "Adam-ℓ2 and AdamW: {chart}");
        assert!(chart["title"]
            .as_str()
            .unwrap()
            .contains("Adam-ℓ2 vs AdamW"));
    }
    assert_eq!(
        chart_titles(&categories[3]).len(),
        3,
        "one per measure: {layout}"
    );

    let text_tags = server.get("/data/plugin/text/tags");
    let mut texts: Vec<&str> = text_tags["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    texts.sort();
    assert_eq!(texts, ["claim4/rule", "claim4/verdict", "report/summary"]);
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
    figures.sort();
    assert_eq!(image_tags, figures);
    assert!(!figures.is_empty());

    // A lane's mean over seeds, and claim 4's paired change, from the runs' own files.
    let dir_of = |name: &str| &planned.iter().find(|(n, _)| n == name).unwrap().1;
    let lane = "resnet8-nobn_adamw_lr0.001_wd0.0001";
    let seeds = [dir_of(&format!("{lane}_s0")), dir_of(&format!("{lane}_s1"))];
    for (measure, file, key) in [
        ("test_accuracy", "metrics.jsonl", "test_accuracy"),
        ("train_loss", "metrics.jsonl", "train_loss"),
        ("batch_loss", "losses.jsonl", "loss"),
    ] {
        let tag = format!("lane/{lane}/{measure}");
        assert_estimates(server, &tag, &per_step(&seeds, file, key));
    }
    let natural = "resnet8-nobn_adam-l2_lr0.001_wd0.0001";
    let natural = [0, 1].map(|seed| dir_of(&format!("{natural}_s{seed}")));
    let treated = [0, 1]
        .map(|seed| dir_of(&format!("{lane}_s{seed}_gf-spread1").replace("adamw", "adam-l2")));
    let changes: Vec<(u64, Vec<f64>)> = per_step(&treated, "metrics.jsonl", "train_loss")
        .into_iter()
        .zip(per_step(&natural, "metrics.jsonl", "train_loss"))
        .map(|((step, treated), (_, natural))| {
            (step, vec![treated[0] - natural[0], treated[1] - natural[1]])
        })
        .collect();
    assert_estimates(
        server,
        "claim4/resnet8-nobn-gf-spread1/adam-l2/train_loss_change",
        &changes,
    );
}

#[test]
fn headless_chromium_shows_the_grid_rows_and_the_chart_titles() {
    let (Some(binary), Some(browser)) = (
        tensorboard_support::tensorboard(BROWSER_TEST),
        browser::chromium(BROWSER_TEST),
    ) else {
        return;
    };
    let sweep = sweep();
    let server = serve(&binary, &sweep.folder(), sweep.plan_runs().len());

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

    let layout = server.get("/data/plugin/custom_scalars/layout");
    let titles: Vec<String> = layout["category"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["chart"].as_array().unwrap().clone())
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    let shown = browser::deep_text(&browser, &url("custom_scalars"), &titles, 90);
    for title in &titles {
        assert!(
            shown.contains(title.as_str()),
            "custom scalars shows no chart {title:?}:\n{shown}"
        );
    }

    if let Some(dir) = std::env::var_os("SCALEFREE_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The custom scalars of the summary run alone (the other runs have none of its
        // tags), unsmoothed: its values are means already.
        for (dashboard, file) in [
            ("hparams", "tensorboard-hparams.png"),
            (
                "custom_scalars&regexInput=%5Esummary%24&_smoothingWeight=0",
                "tensorboard-summary-run.png",
            ),
        ] {
            browser::screenshot(
                &browser,
                &url(dashboard),
                20_000,
                &dir.join(file),
                (1400, 900),
            );
        }
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
