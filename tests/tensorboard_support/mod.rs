//! TensorBoard's own server for the dashboard tests: the project's virtual environment's
//! `tensorboard` (or one on PATH), started on 127.0.0.1 at a free port on a log folder,
//! asked over HTTP as its web page asks, and stopped when the guard is dropped, however
//! the test ends.
#![allow(dead_code)] // each test binary uses part of this module
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `tensorboard` to start, or `None` when `test` is to be skipped.
pub fn tensorboard(test: &str) -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/tensorboard");
    let found = venv
        .is_file()
        .then_some(venv)
        .or_else(|| crate::require::on_path(&["tensorboard"]));
    if found.is_none() {
        crate::require::skip_or_fail(
            test,
            "no tensorboard (looked in .venv/bin and on PATH)",
            "run `make setup`, which installs it into .venv",
        );
    }
    found
}

pub struct Server {
    child: Child,
    pub url: String,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Server {
    /// `tensorboard --logdir logdir` on 127.0.0.1, once it answers.
    pub fn start(binary: &Path, logdir: &Path) -> Server {
        Server::start_in(binary, Path::new("."), logdir)
    }

    /// [`Server::start`] from the folder `cwd`, with `logdir` as given (relative to it):
    /// as `make tensorboard EXPERIMENT=x` starts it, the page names the folder `runs/x`.
    pub fn start_in(binary: &Path, cwd: &Path, logdir: &Path) -> Server {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("tensorboard.log");
        let port = free_port();
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .current_dir(cwd)
            .arg("--logdir")
            .arg(logdir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _log_dir: log_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.try_get("/data/plugins_listing").is_none() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("tensorboard exited ({status}):\n{}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "tensorboard did not answer in 120 s:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn try_get(&self, path: &str) -> Option<String> {
        let mut response = ureq::get(format!("{}{path}", self.url)).call().ok()?;
        response.body_mut().read_to_string().ok()
    }

    /// `GET path`, as JSON.
    pub fn get(&self, path: &str) -> Value {
        let text = self
            .try_get(path)
            .unwrap_or_else(|| panic!("GET {path} failed:\n{}", self.log_text()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    /// `POST path` with a JSON body, as the HParams page sends it.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let result = ureq::post(format!("{}{path}", self.url))
            .header("X-XSRF-Protected", "1")
            .header("Content-Type", "application/json")
            .send(body.to_string());
        let text = match result {
            Ok(mut response) => response.body_mut().read_to_string().unwrap(),
            Err(e) => panic!("POST {path} {body}: {e}\n{}", self.log_text()),
        };
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
    }

    /// Asks `ask` until `ready` holds of the answer (TensorBoard reads the logs after it
    /// starts answering), for at most a minute; the last answer.
    pub fn wait_for(
        &self,
        ask: impl Fn(&Server) -> Value,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = ask(self);
            if ready(&answer) || Instant::now() > deadline {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HParams sessions of every status, grouped, with the groups' metrics averaged.
pub fn session_groups(server: &Server) -> Value {
    let request = serde_json::json!({
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [],
        "aggregationType": "AGGREGATION_AVG",
        "startIndex": 0,
        "sliceSize": 10000
    });
    server.post("/data/plugin/hparams/session_groups", &request)
}

/// The sessions of `groups` (a `session_groups` answer), each with its group's name.
pub fn sessions(groups: &Value) -> Vec<(String, Value)> {
    groups["sessionGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| {
            let name = g["name"].as_str().unwrap_or_default().to_string();
            g["sessions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |s| (name.clone(), s.clone()))
        })
        .collect()
}

/// A session's status as HParams answers it (the default, unknown, is left out).
pub fn status(session: &Value) -> &str {
    session["status"].as_str().unwrap_or("STATUS_UNKNOWN")
}

/// The value HParams gives `tag` among a session's or group's metric values.
pub fn metric(of: &Value, tag: &str) -> Option<f64> {
    of["metricValues"]
        .as_array()?
        .iter()
        .find(|m| m["name"]["tag"] == tag)?["value"]
        .as_f64()
}

/// A value a TensorBoard event file holds under a tag.
#[derive(Clone, Debug, PartialEq)]
pub enum Logged {
    Scalar(f64),
    /// A string tensor (the text plugin's Markdown, the custom-scalars layout).
    Text(String),
    /// An image, a histogram or a plugin's empty tensor.
    Other,
}

/// Every summary value of the event files in `dir` (one TensorBoard run's folder), in the
/// order TensorBoard reads them (files by name, records in order): `(step, tag, value)`.
/// The records are read as TensorBoard's format has them (length, CRC, event, CRC), a torn
/// last record left out as TensorBoard leaves it.
pub fn logged(dir: &Path) -> Vec<(u64, String, Logged)> {
    use protobuf::Message;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("tfevents")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        // A file replaced while this reads (a summary run written anew) is skipped.
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let mut at = 0;
        while at + 12 <= bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let Some(data) = bytes.get(at + 12..at + 12 + len) else {
                break;
            };
            at += 12 + len + 4;
            let event = tensorboard_proto::event::Event::parse_from_bytes(data).unwrap();
            for value in event.get_summary().get_value() {
                let logged = if value.has_simple_value() {
                    Logged::Scalar(value.get_simple_value() as f64)
                } else if let Some(text) = value.get_tensor().get_string_val().first() {
                    Logged::Text(String::from_utf8_lossy(text).into_owned())
                } else {
                    Logged::Other
                };
                out.push((event.get_step() as u64, value.get_tag().to_string(), logged));
            }
        }
    }
    out
}

/// The text logged last under `tag` in the TensorBoard run `dir`, if any.
pub fn last_text(dir: &Path, tag: &str) -> Option<String> {
    logged(dir).into_iter().rev().find_map(|(_, t, v)| match v {
        Logged::Text(text) if t == tag => Some(text),
        _ => None,
    })
}
