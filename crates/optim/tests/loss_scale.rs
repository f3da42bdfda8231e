//! Dynamic loss scaling: a non-finite gradient skips the step and backs the scale off, a
//! run of finite ones grows it, and a taken step is the unscaled one.
use adamw_prox::{Adam, AdamConfig, LossScaler};
use tch::{nn, Device, Kind, Tensor};

fn model() -> (nn::VarStore, Tensor, Adam) {
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs
        .root()
        .var_copy("w", &Tensor::from_slice(&[1.0f32, -2.0, 3.0]));
    let opt = AdamConfig::adamw(1e-2, 1e-2).build(&vs).unwrap();
    (vs, w, opt)
}

fn backward(opt: &mut Adam, w: &Tensor, multiplier: f64) {
    opt.zero_grad();
    ((w * w).sum(Kind::Float) * multiplier).backward();
}

fn snapshot(opt: &Adam) -> Vec<Vec<f32>> {
    let group = opt.group("all").unwrap();
    [group.values(), group.exp_avg(), group.exp_avg_sq()]
        .into_iter()
        .map(|t| Vec::<f32>::try_from(t).unwrap())
        .collect()
}

#[test]
fn a_forced_overflow_skips_the_step_and_backs_the_scale_off() {
    let (_vs, w, mut opt) = model();
    let mut scaler = LossScaler::new(1024.0, 2.0, 0.5, 3).unwrap();
    backward(&mut opt, &w, scaler.scale());
    assert!(scaler.step(&mut opt).unwrap());
    let before = snapshot(&opt);
    let steps = opt.step_count();
    let counts: Vec<u64> = opt.group("all").unwrap().step_counts().collect();

    for overflow in [f64::INFINITY, f64::NAN] {
        backward(&mut opt, &w, overflow);
        assert!(!scaler.step(&mut opt).unwrap(), "{overflow}: skipped");
        assert_eq!(
            snapshot(&opt),
            before,
            "{overflow}: weights and moments untouched"
        );
        assert_eq!(opt.step_count(), steps);
        let now: Vec<u64> = opt.group("all").unwrap().step_counts().collect();
        assert_eq!(now, counts, "{overflow}: the parameters' own step counts");
    }
    assert_eq!(scaler.scale(), 256.0);
    assert_eq!(scaler.skipped_steps(), 2);
}

#[test]
fn the_scale_grows_after_the_interval_of_finite_steps() {
    let (_vs, w, mut opt) = model();
    let mut scaler = LossScaler::new(1024.0, 2.0, 0.5, 3).unwrap();
    let mut scales = Vec::new();
    for _ in 0..7 {
        backward(&mut opt, &w, scaler.scale());
        assert!(scaler.step(&mut opt).unwrap());
        scales.push(scaler.scale());
    }
    assert_eq!(
        scales,
        [1024.0, 1024.0, 2048.0, 2048.0, 2048.0, 4096.0, 4096.0]
    );
    // An overflow restarts the count: three more finite steps before the next growth.
    backward(&mut opt, &w, f64::INFINITY);
    scaler.step(&mut opt).unwrap();
    let mut after = Vec::new();
    for _ in 0..3 {
        backward(&mut opt, &w, scaler.scale());
        scaler.step(&mut opt).unwrap();
        after.push(scaler.scale());
    }
    assert_eq!(after, [2048.0, 2048.0, 4096.0]);
    assert_eq!(scaler.skipped_steps(), 1);
}

#[test]
fn a_scaled_step_equals_the_unscaled_one() {
    let (_vs, w, mut opt) = model();
    let (_vs2, w2, mut plain) = model();
    let mut scaler = LossScaler::default();
    for _ in 0..5 {
        backward(&mut opt, &w, scaler.scale());
        assert!(scaler.step(&mut opt).unwrap());
        backward(&mut plain, &w2, 1.0);
        plain.step().unwrap();
    }
    // The scale is a power of two: scaling and unscaling are exact.
    assert_eq!(snapshot(&opt), snapshot(&plain));
}

#[test]
fn bad_scaler_settings_are_refused_naming_the_field() {
    for (settings, field) in [
        ((0.0, 2.0, 0.5, 10), "scale"),
        ((f64::INFINITY, 2.0, 0.5, 10), "scale"),
        ((1.0, 1.0, 0.5, 10), "growth_factor"),
        ((1.0, 2.0, 1.0, 10), "backoff_factor"),
        ((1.0, 2.0, 0.5, 0), "growth_interval"),
    ] {
        let (s, g, b, i) = settings;
        let err = LossScaler::new(s, g, b, i).unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
}
