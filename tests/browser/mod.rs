//! Headless Chromium for the tests that look at a page as a browser shows it: found on
//! PATH (skipped outside CI when missing, see `require`), its DOM after the page's
//! scripts ran, and screenshots.
#![allow(dead_code)] // each test binary uses part of this module
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// A headless-capable Chromium on PATH, or `None` when `test` is to be skipped.
pub fn chromium(test: &str) -> Option<PathBuf> {
    let found = crate::require::on_path(&BROWSERS);
    if found.is_none() {
        crate::require::skip_or_fail(
            test,
            &format!("no browser on PATH (looked for {})", BROWSERS.join(", ")),
            "install chromium (as root: apt-get install chromium; `make test` does it when run \
             as root)",
        );
    }
    found
}

/// Chromium headless, in a fresh profile, given `budget_ms` of virtual time for the
/// page's scripts and requests, with `extra` flags, on `url`; its stdout.
fn headless(browser: &Path, url: &str, budget_ms: u32, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page's DOM after `budget_ms` of virtual time, as headless Chromium serialises it;
/// `extra`: more flags.
pub fn dump_dom(browser: &Path, url: &str, budget_ms: u32, extra: &[&str]) -> String {
    let mut flags: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    flags.push("--dump-dom".into());
    headless(browser, url, budget_ms, &flags)
}

/// A PNG screenshot of the page, `width` × `height`, after `budget_ms` of virtual time.
pub fn screenshot(browser: &Path, url: &str, budget_ms: u32, png: &Path, size: (u32, u32)) {
    let flags = [
        format!("--screenshot={}", png.display()),
        format!("--window-size={},{}", size.0, size.1),
        "--hide-scrollbars".to_string(),
    ];
    headless(browser, url, budget_ms, &flags);
    assert!(png.is_file(), "no screenshot at {}", png.display());
}

/// The text of a page and of every shadow root and frame in it: what a dashboard built
/// of web components shows, which `--dump-dom` (light DOM only) leaves out.
const DEEP_TEXT: &str = r#"(() => {
  const text = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.data + " ";
    if (["STYLE", "SCRIPT", "TEMPLATE"].includes(node.tagName)) return "";
    let out = "";
    if (node.shadowRoot) out += text(node.shadowRoot);
    if (node.tagName === "IFRAME" && node.contentDocument) out += text(node.contentDocument);
    for (const child of node.childNodes) out += text(child);
    return out;
  };
  return text(document).replace(/\s+/g, " ");
})()"#;

/// Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
/// it reads commands on fd 3 and answers on fd 4, each message JSON ended by a NUL).
struct DevTools {
    child: std::process::Child,
    to: std::fs::File,
    from: std::io::BufReader<std::fs::File>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl DevTools {
    fn start(browser: &Path, size: (u32, u32)) -> DevTools {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        let pipe = || {
            let mut fds = [0; 2];
            // SAFETY: pipe writes two descriptors into the array it is given.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            fds
        };
        let (commands, answers) = (pipe(), pipe());
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(browser);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        let (child_reads, child_writes) = (commands[0], answers[1]);
        // SAFETY: between fork and exec only dup2, async-signal-safe, is called.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(child_reads, 3) < 0 || libc::dup2(child_writes, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
        // SAFETY: the descriptors are ours (made above) and each is owned once from here.
        unsafe {
            libc::close(child_reads);
            libc::close(child_writes);
            DevTools {
                child,
                to: std::fs::File::from_raw_fd(commands[1]),
                from: std::io::BufReader::new(std::fs::File::from_raw_fd(answers[0])),
                next_id: 0,
                _profile: profile,
            }
        }
    }

    /// Sends `method` (to the page's `session`, if given) and waits for its answer.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: serde_json::Value,
    ) -> serde_json::Value {
        use std::io::{BufRead, Write};
        self.next_id += 1;
        let mut message =
            serde_json::json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        loop {
            let mut answer = Vec::new();
            let n = self.from.read_until(0, &mut answer).unwrap();
            assert!(n > 0, "chromium closed its DevTools pipe during {method}");
            answer.pop();
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            if answer["id"] == self.next_id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }
}

impl Drop for DevTools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text `url` shows, its shadow roots' included, once it holds every one of `wanted`
/// (or after `seconds`): headless Chromium over the DevTools protocol.
pub fn deep_text(browser: &Path, url: &str, wanted: &[String], seconds: u64) -> String {
    let mut chrome = DevTools::start(browser, (1600, 1200));
    let target = chrome.call(
        None,
        "Target.createTarget",
        serde_json::json!({"url": "about:blank"}),
    );
    let attached = chrome.call(
        None,
        "Target.attachToTarget",
        serde_json::json!({"targetId": target["targetId"], "flatten": true}),
    );
    let session = attached["sessionId"].as_str().unwrap().to_string();
    chrome.call(
        Some(&session),
        "Page.navigate",
        serde_json::json!({"url": url}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let result = chrome.call(
            Some(&session),
            "Runtime.evaluate",
            serde_json::json!({"expression": DEEP_TEXT, "returnByValue": true}),
        );
        let text = result["result"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if wanted.iter().all(|w| text.contains(w.as_str())) || std::time::Instant::now() > deadline
        {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
