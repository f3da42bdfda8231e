include!("build/torch_link.rs");

fn main() {
    link_libtorch();
    // A build from a copy of the sources (scripts/cargo-torch.sh) passes it in.
    println!("cargo:rerun-if-env-changed=SCALEFREE_GIT_DESCRIBE");
    if let Ok(describe) = std::env::var("SCALEFREE_GIT_DESCRIBE") {
        println!("cargo:rustc-env=SCALEFREE_GIT_DESCRIBE={describe}");
        return;
    }
    // Recorded in every run directory so that a run can be repeated with the same code.
    for path in [".git/HEAD", ".git/index", ".git/refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let describe = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--tags"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SCALEFREE_GIT_DESCRIBE={describe}");
}
