//! Several parameter groups with their own learning rate, as fine-tuning does: a
//! pretrained body at a tenth of the head's step size, no decay on biases, all under
//! one schedule owned by the optimizer (it scales each group's step size alike).
//! Each group's settings are read back by name.
//!
//! Run: `cargo run --release -p adamw-prox --example lr_groups`
use adamw_prox::{AdamConfig, ParamGroup, Schedule};
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let body = nn::seq()
        .add(nn::linear(
            vs.root() / "body" / "fc1",
            6,
            32,
            Default::default(),
        ))
        .add_fn(|x| x.gelu("none"))
        .add(nn::linear(
            vs.root() / "body" / "fc2",
            32,
            32,
            Default::default(),
        ))
        .add_fn(|x| x.gelu("none"));
    let head = nn::linear(vs.root() / "head", 32, 3, Default::default());

    let lr = 1e-2;
    let in_body = |name: &str| name.starts_with("body.");
    let is_bias = |name: &str| name.ends_with(".bias");
    let groups = vec![
        ParamGroup::from_var_store_where("body", &vs, |n| in_body(n) && !is_bias(n))
            .with_lr(lr / 10.0),
        ParamGroup::from_var_store_where("body_bias", &vs, |n| in_body(n) && is_bias(n))
            .with_lr(lr / 10.0)
            .with_weight_decay(0.0),
        ParamGroup::from_var_store_where("head", &vs, |n| !in_body(n)),
    ];
    let steps = 200;
    let mut opt = AdamConfig::torch_adamw(lr, 0.01)
        .schedule(Schedule::cosine(steps))
        .build_groups(groups)?;

    let x = Tensor::randn([128, 6], (Kind::Float, Device::Cpu));
    let y = Tensor::cat(
        &[
            x.narrow(1, 0, 2)
                .sum_dim_intlist(1, true, Kind::Float)
                .sin(),
            x.narrow(1, 2, 2).prod_dim_int(1, true, Kind::Float),
            x.narrow(1, 4, 2)
                .square()
                .sum_dim_intlist(1, true, Kind::Float),
        ],
        1,
    );
    let loss = |x: &Tensor| head.forward(&body.forward(x)).mse_loss(&y, Reduction::Mean);
    let first = loss(&x).double_value(&[]);
    for step in 0..steps {
        if step == steps / 2 {
            // Halfway, the body may learn faster: its step size, before the schedule's factor.
            opt.set_group_lr("body", lr / 3.0)?;
        }
        opt.backward_step(&loss(&x))?;
    }
    let last = loss(&x).double_value(&[]);
    println!("loss {first:.4} → {last:.4}");
    for group in opt.groups() {
        println!(
            "group {:<9} lr {:.1e} (η_t now {:.1e})  λ {:.1e}  {} tensors",
            group.name(),
            group.lr(),
            group.scheduled_lr(),
            group.weight_decay(),
            group.slots().count()
        );
    }
    assert_eq!(opt.group("body")?.lr(), lr / 3.0);
    assert!(last < first / 2.0);
    Ok(())
}
