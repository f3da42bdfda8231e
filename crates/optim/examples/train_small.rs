//! Trains a small MLP on a synthetic two-spirals problem with Adam-ℓ2, AdamW and
//! AdamProx, using parameter groups (no decay on biases) and a cosine schedule.
//!
//! Run: `cargo run --release -p adamw-prox --example train_small`
use adamw_prox::{AdamConfig, DecayMode, ParamGroup, Schedule};
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};

/// Two interleaved spirals, 2-D points with labels 0 and 1.
fn spirals(n: i64) -> (Tensor, Tensor) {
    let t = Tensor::linspace(
        0.25,
        3.0 * std::f64::consts::PI,
        n,
        (Kind::Float, Device::Cpu),
    );
    let arm = |sign: f64| Tensor::stack(&[t.cos() * &t * sign, t.sin() * &t * sign], 1) / 10.0;
    let x = Tensor::cat(&[arm(1.0), arm(-1.0)], 0);
    let y = Tensor::cat(
        &[
            Tensor::zeros([n], (Kind::Int64, Device::Cpu)),
            Tensor::ones([n], (Kind::Int64, Device::Cpu)),
        ],
        0,
    );
    (x, y)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, y) = spirals(200);
    let steps = 1500;
    let lr0 = 1e-2;
    for mode in DecayMode::ALL {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let net = nn::seq()
            .add(nn::linear(&root / "fc1", 2, 64, Default::default()))
            .add_fn(|t| t.relu())
            .add(nn::linear(&root / "fc2", 64, 64, Default::default()))
            .add_fn(|t| t.relu())
            .add(nn::linear(&root / "fc3", 64, 2, Default::default()));
        let groups = ParamGroup::split_var_store(&vs, |name| name.ends_with(".bias"));
        let config = AdamConfig::new(mode, lr0, 1e-4).schedule(Schedule::cosine(steps));
        let mut opt = config.build_groups(groups)?;
        for _ in 0..steps {
            let loss =
                net.forward(&x)
                    .cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0);
            opt.backward_step(&loss)?;
        }
        let logits = net.forward(&x);
        let loss = logits
            .cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0)
            .double_value(&[]);
        let accuracy = logits
            .argmax(1, false)
            .eq_tensor(&y)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        println!(
            "{mode:<10} final loss {loss:.4}  accuracy {:.1}%",
            accuracy * 100.0
        );
    }
    Ok(())
}
