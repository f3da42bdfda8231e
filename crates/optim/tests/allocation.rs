//! An optimizer whose buffers do not fit in memory is an error naming the group and the
//! bytes, not a panic with libtorch's C++ backtrace. Alone in its file: it limits the
//! address space of its whole process.
use adamw_prox::{AdamConfig, OptimError, ParamGroup};
use tch::{Device, Kind, Tensor};

/// The process's virtual size now, in bytes (Linux).
fn virtual_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn buffers_that_do_not_fit_are_an_error_naming_the_group() {
    // 256 MiB of parameters; the optimizer's flat values, gradients and moments need 1 GiB.
    let param = Tensor::zeros([64 << 20], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let limit = virtual_size() + (256 << 20);
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setting this process's own soft limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
    let built = AdamConfig::adamw(1e-3, 0.0)
        .build_groups(vec![ParamGroup::new("body").with_param("w", param)]);
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_AS, &unlimited) };
    match built {
        Err(e @ OptimError::Allocation { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("group `body`") && text.contains("1073741824 bytes"),
                "{text}"
            );
            assert!(!text.contains('\n'), "one line, no C++ backtrace: {text}");
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("1 GiB of buffers fit in 256 MiB of address space"),
    }
}
