// The one line a dependent of adamw-prox needs: libtorch's rpath and libtorch_cuda.
fn main() { if let Ok(arg) = std::env::var("DEP_ADAMW_PROX_LINK_ARG") { println!("cargo:rustc-link-arg={arg}") } }
