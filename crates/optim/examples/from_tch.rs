//! Porting a tch training loop from `nn::AdamW` / `nn::Adam`: the same loop, the same
//! numbers, with `AdamConfig::torch_adamw` / `torch_adam` taking tch's `wd` as it is.
//! Both optimizers run side by side on copies of one model in float64, with a learning
//! rate set by hand each step (tch's way of scheduling), and end at the same weights.
//! The README's migration table lists the rest of the correspondences.
//!
//! Run: `cargo run --release -p adamw-prox --example from_tch`
use adamw_prox::AdamConfig;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

fn model(vs: &nn::VarStore) -> impl Module {
    nn::seq()
        .add(nn::linear(vs.root() / "fc1", 5, 16, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(vs.root() / "fc2", 16, 1, Default::default()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tch::manual_seed(0);
    let mut tch_vs = nn::VarStore::new(Device::Cpu);
    let tch_net = model(&tch_vs);
    tch_vs.double();
    let mut our_vs = nn::VarStore::new(Device::Cpu);
    let our_net = model(&our_vs);
    our_vs.double();
    our_vs.copy(&tch_vs)?;

    let (lr, wd) = (1e-2, 0.1);
    // Before: tch's optimizer.
    let mut before = nn::AdamW {
        wd,
        ..Default::default()
    }
    .build(&tch_vs, lr)?;
    // After: the same numbers, by name. (`nn::Adam { wd, .. }` is `AdamConfig::torch_adam(lr, wd)`.)
    let mut after = AdamConfig::torch_adamw(lr, wd).build(&our_vs)?;

    let x = Tensor::randn([64, 5], (Kind::Double, Device::Cpu));
    let y = x.sum_dim_intlist(1, true, Kind::Double).sin();
    let steps = 100;
    for step in 0..steps {
        let lr_t = lr * (1.0 - step as f64 / steps as f64); // linear decay, set by hand
        before.set_lr(lr_t);
        before.backward_step(&tch_net.forward(&x).mse_loss(&y, Reduction::Mean));
        after.set_lr(lr_t)?;
        after.backward_step(&our_net.forward(&x).mse_loss(&y, Reduction::Mean))?;
    }
    let largest = tch_vs
        .variables()
        .iter()
        .map(|(name, theirs)| {
            let ours = &our_vs.variables()[name];
            ((ours - theirs).abs().max() / theirs.abs().max()).double_value(&[])
        })
        .fold(0.0, f64::max);
    println!("after {steps} steps the weights agree to a relative {largest:.1e}");
    assert!(largest < 1e-10);
    // The paper's λ of this optimizer, and back.
    println!(
        "λ = {:e} (= wd·lr); PyTorch's weight_decay = {}",
        after.config().weight_decay,
        after.config().torch_weight_decay()
    );
    Ok(())
}
