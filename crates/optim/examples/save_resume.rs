//! Save and resume: the model's variables and the optimizer's state in one safetensors
//! checkpoint, then a fresh process-like start (new `VarStore`, new optimizer) that loads
//! it and continues. The resumed run ends bit for bit where the uninterrupted one does.
//!
//! Run: `cargo run --release -p adamw-prox --example save_resume`
use adamw_prox::{Adam, AdamConfig, Schedule};
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};

const STEPS: u64 = 40;

fn model(vs: &nn::VarStore) -> impl Module {
    nn::seq()
        .add(nn::linear(vs.root() / "fc1", 4, 16, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(vs.root() / "fc2", 16, 1, Default::default()))
}

/// The optimizer: AdamW with a schedule it owns, so the step count is part of its state.
fn optimizer(vs: &nn::VarStore) -> adamw_prox::Result<Adam> {
    AdamConfig::adamw(1e-2, 1e-4)
        .schedule(Schedule::cosine(STEPS))
        .build(vs)
}

fn train(net: &impl Module, opt: &mut Adam, steps: std::ops::Range<u64>) -> adamw_prox::Result<()> {
    for step in steps {
        tch::manual_seed(step as i64);
        let x = Tensor::randn([32, 4], (Kind::Float, Device::Cpu));
        let y = x.sum_dim_intlist(1, true, Kind::Float).cos();
        opt.backward_step(&net.forward(&x).mse_loss(&y, Reduction::Mean))?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let checkpoint =
        std::env::temp_dir().join(format!("save-resume-{}.safetensors", std::process::id()));

    // Uninterrupted.
    tch::manual_seed(7);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = model(&vs);
    let mut initial = nn::VarStore::new(Device::Cpu);
    let _ = model(&initial);
    initial.copy(&vs)?;
    let mut opt = optimizer(&vs)?;
    train(&net, &mut opt, 0..STEPS)?;

    // Interrupted after 15 steps: save the variables and the optimizer's state together.
    let mut first = nn::VarStore::new(Device::Cpu);
    let first_net = model(&first);
    first.copy(&initial)?;
    let mut first_opt = optimizer(&first)?;
    train(&first_net, &mut first_opt, 0..15)?;
    let mut tensors: Vec<(String, Tensor)> = first.variables().into_iter().collect();
    tensors.extend(first_opt.state_tensors("optimizer."));
    Tensor::write_safetensors(&tensors, &checkpoint)?;

    // Resumed: build as before, then load both and go on from step 15.
    let mut resumed = nn::VarStore::new(Device::Cpu);
    let resumed_net = model(&resumed);
    let mut resumed_opt = optimizer(&resumed)?;
    resumed.load(&checkpoint)?; // the model's variables (the `optimizer.` entries are not variables)
    let loaded = Tensor::read_safetensors(&checkpoint)?;
    resumed_opt.load_state_tensors("optimizer.", &loaded)?;
    assert_eq!(resumed_opt.step_count(), 15);
    train(&resumed_net, &mut resumed_opt, 15..STEPS)?;
    std::fs::remove_file(&checkpoint)?;

    for (name, value) in vs.variables() {
        let other = &resumed.variables()[&name];
        assert!(value.equal(other), "{name} differs after resuming");
    }
    println!("resumed at step 15 and ended bit for bit where the uninterrupted run did");
    Ok(())
}
