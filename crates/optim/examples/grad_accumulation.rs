//! Gradient accumulation: several backward passes, one optimizer step. Gradients add up
//! in place in the optimizer's flat buffer, so the pattern is tch's: `zero_grad` once per
//! optimizer step, `backward` per micro-batch (its loss divided by their number), then
//! `step`. Four micro-batches of 16 give the same step as one batch of 64, which this
//! example checks.
//!
//! Run: `cargo run --release -p adamw-prox --example grad_accumulation`
use adamw_prox::AdamConfig;
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};

fn model(vs: &nn::VarStore) -> impl Module {
    nn::seq()
        .add(nn::linear(vs.root() / "fc1", 8, 32, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(vs.root() / "fc2", 32, 1, Default::default()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vs_a = nn::VarStore::new(Device::Cpu);
    let mut vs_b = nn::VarStore::new(Device::Cpu);
    let (net_a, net_b) = (model(&vs_a), model(&vs_b));
    vs_b.copy(&vs_a)?; // the same initial weights
    let mut accumulated = AdamConfig::torch_adamw(1e-2, 0.01).build(&vs_a)?;
    let mut whole = AdamConfig::torch_adamw(1e-2, 0.01).build(&vs_b)?;

    let (micro_batches, micro) = (4, 16);
    for step in 0..20 {
        tch::manual_seed(step);
        let x = Tensor::randn([micro_batches * micro, 8], (Kind::Float, Device::Cpu));
        let y = x.sum_dim_intlist(1, true, Kind::Float).sin();

        accumulated.zero_grad();
        for k in 0..micro_batches {
            let (xk, yk) = (x.narrow(0, k * micro, micro), y.narrow(0, k * micro, micro));
            let loss = net_a.forward(&xk).mse_loss(&yk, Reduction::Mean) / micro_batches as f64;
            loss.backward();
        }
        accumulated.step()?;

        whole.backward_step(&net_b.forward(&x).mse_loss(&y, Reduction::Mean))?;
    }
    let difference = vs_a
        .variables()
        .iter()
        .map(|(name, a)| (a - &vs_b.variables()[name]).abs().max().double_value(&[]))
        .fold(0.0, f64::max);
    println!("largest difference between accumulated and whole-batch weights: {difference:e}");
    assert!(difference < 1e-5);
    Ok(())
}
