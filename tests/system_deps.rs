//! scripts/system-deps.sh as a user who is not root: it installs nothing, says once what is
//! missing and the command that installs it, and lets `make test` go on (the tests that
//! need the missing parts skip). Run as `nobody` through `setpriv`, so this test itself
//! must run as root (as CI does); elsewhere it is skipped with its reason.
mod require;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

const TEST: &str = "as_another_user_missing_test_components_are_named_with_the_command_to_install";

#[test]
fn as_another_user_missing_test_components_are_named_with_the_command_to_install() {
    let Some(setpriv) = require::on_path(&["setpriv"]) else {
        require::skip_or_fail(TEST, "no setpriv on PATH", "install util-linux");
        return;
    };
    if !require::is_root() {
        require::skip_or_fail(
            TEST,
            "not root, so it cannot run the script as another user",
            "run the tests as root",
        );
        return;
    }
    // A folder `nobody` can read, holding the script and a PATH with only bash and id:
    // no browser, no apt-get, no Slurm.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let script = dir.path().join("system-deps.sh");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/system-deps.sh"),
        &script,
    )
    .unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["bash", "id"] {
        let found = require::on_path(&[tool]).unwrap_or_else(|| panic!("no {tool} on PATH"));
        symlink(found, bin.join(tool)).unwrap();
    }
    let run = |mode: &str| {
        Command::new(&setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin.join("bash"))
            .arg(&script)
            .arg(mode)
            .env_clear()
            .env("PATH", &bin)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };

    let out = run("test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let font_here = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ]
    .iter()
    .any(|f| Path::new(f).is_file());
    if font_here {
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("continuing: the tests that need them print SKIPPED"),
            "{text}"
        );
    } else {
        // Without the font the script stops, naming it, whoever runs it.
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(
            text.contains("fonts-dejavu-core") && text.contains("SCALEFREE_FONT"),
            "{text}"
        );
    }
    assert!(text.contains("not root (uid 65534)"), "{text}");
    assert!(
        text.contains("chromium            headless browser for tests/report_browser.rs"),
        "{text}"
    );
    assert!(
        text.contains("to install them: sudo apt-get install -y") && text.contains(" chromium"),
        "{text}"
    );
    assert!(
        text.contains("tests/sweep_slurm.rs starts its own Slurm cluster"),
        "{text}"
    );
    assert!(!text.contains("installing"), "{text}");
    assert_eq!(
        text.matches("missing system packages").count(),
        1,
        "said more than once:\n{text}"
    );

    // `setup` asks only for what scalefree itself needs: with the font there, nothing.
    if font_here {
        let out = run("setup");
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
