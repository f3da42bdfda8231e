//! A small CNN (convolutions, batch norm, a linear head) on a `VarStore`, trained with
//! AdamW on synthetic images, the way a tch project trains: build the optimizer from the
//! store, then one `backward_step` per batch. No decay on the biases and norms, by name
//! (the standard recipe), and a warm-up + cosine schedule owned by the optimizer.
//!
//! Run: `cargo run --release -p adamw-prox --example cnn`
use adamw_prox::{AdamConfig, ParamGroup, Schedule};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

fn cnn(root: &nn::Path) -> impl ModuleT {
    let conv = |name: &str, i, o| {
        nn::conv2d(
            root / name,
            i,
            o,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        )
    };
    nn::seq_t()
        .add(conv("conv1", 3, 16))
        .add(nn::batch_norm2d(root / "bn1", 16, Default::default()))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv("conv2", 16, 32))
        .add(nn::batch_norm2d(root / "bn2", 32, Default::default()))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(root / "head", 32, 4, Default::default()))
}

/// Four classes of 16×16 images: a bright quadrant, which one is the label.
fn batch(seed: i64, size: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let labels = Tensor::randint(4, [size], (Kind::Int64, Device::Cpu));
    let images = Tensor::randn([size, 3, 16, 16], (Kind::Float, Device::Cpu)) * 0.5;
    for (i, label) in Vec::<i64>::try_from(&labels)
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let (row, col) = (label / 2 * 8, label % 2 * 8);
        let _ = images
            .get(i as i64)
            .narrow(1, row, 8)
            .narrow(2, col, 8)
            .g_add_scalar_(1.0);
    }
    (images, labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = cnn(&vs.root());
    let steps = 150;
    // PyTorch's AdamW(lr=3e-3, weight_decay=0.05), without decay on biases and norms.
    let groups = ParamGroup::split_var_store(&vs, |name| {
        name.ends_with(".bias") || name.starts_with("bn")
    });
    let mut opt = AdamConfig::torch_adamw(3e-3, 0.05)
        .schedule(Schedule::warmup_cosine(10, steps))
        .build_groups(groups)?;
    let (test_images, test_labels) = batch(-1, 256);
    for step in 0..steps {
        let (images, labels) = batch(step as i64, 32);
        let loss = net
            .forward_t(&images, true)
            .cross_entropy_for_logits(&labels);
        opt.backward_step(&loss)?;
        if step % 50 == 0 {
            println!("step {step:>3}  loss {:.4}", loss.double_value(&[]));
        }
    }
    let accuracy = net.batch_accuracy_for_logits(&test_images, &test_labels, vs.device(), 256);
    println!("test accuracy {:.1}%", accuracy * 100.0);
    assert!(accuracy > 0.9, "the CNN should learn the quadrants");
    Ok(())
}
