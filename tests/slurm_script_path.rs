//! scripts/slurm-cluster.sh finds the programs it runs from the sbin folders too (where
//! Debian puts munged, slurmctld, slurmd and runuser), even when PATH holds only
//! /usr/bin and /bin, as under `env -i`, cron or a container's default.
use std::path::Path;
use std::process::Command;

#[test]
fn with_a_minimal_path_the_daemons_are_found_in_the_sbin_folders() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-cluster.sh");
    let out = Command::new("/bin/bash")
        .arg(&script)
        .arg("tools")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sbins = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
    let mut checked = 0;
    for tool in ["munged", "mungekey", "slurmctld", "slurmd", "runuser"] {
        let line = text
            .lines()
            .find(|l| l.split(' ').next() == Some(tool))
            .unwrap_or_else(|| panic!("no line for {tool}: {text}"));
        let in_bin = ["/usr/bin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        let in_sbin = sbins.iter().find(|d| Path::new(d).join(tool).exists());
        if let (Some(dir), false) = (in_sbin, in_bin) {
            assert_eq!(line, format!("{tool} {dir}/{tool}"), "{text}");
            checked += 1;
        }
    }
    // runuser (util-linux) is in /usr/sbin on Debian even without Slurm.
    assert!(
        checked > 0,
        "nothing of these is installed in an sbin folder: {text}"
    );
}
