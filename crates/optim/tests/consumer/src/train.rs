//! A small tch training run with adamw-prox, shared by the consumer binary and the
//! crate's test, which compares the two results bit for bit.
use adamw_prox::{AdamConfig, Schedule};
use tch::nn::{self, Module};
use tch::{Device, Kind, Reduction, Tensor};

/// Trains a small MLP on a fixed regression problem with AdamW (AMSGrad, warm-up +
/// cosine schedule owned by the optimizer, gradient-norm clipping) and describes the
/// result exactly: the final loss and a hash of every weight's bits, and whether CUDA is
/// available (false in a binary that lost libtorch_cuda).
pub fn train_and_describe() -> String {
    // One thread and a fixed seed: the same numbers in any process.
    tch::set_num_threads(1);
    tch::manual_seed(2022);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = nn::seq()
        .add(nn::linear(vs.root() / "hidden", 3, 16, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(vs.root() / "out", 16, 1, Default::default()));
    let x = Tensor::linspace(-1.0, 1.0, 64 * 3, (Kind::Float, Device::Cpu)).view([64, 3]);
    let y = (x.select(1, 0) * x.select(1, 1) + x.select(1, 2).sin()).unsqueeze(1);

    let steps = 60;
    let mut opt = AdamConfig::adamw(1e-2, 1e-3)
        .amsgrad(true)
        .schedule(Schedule::warmup_cosine(5, steps))
        .build(&vs)
        .expect("a valid optimizer");
    for _ in 0..steps {
        let loss = net.forward(&x).mse_loss(&y, Reduction::Mean);
        opt.backward_step_clip_norm(&loss, 1.0).expect("a step");
    }
    let loss = net
        .forward(&x)
        .mse_loss(&y, Reduction::Mean)
        .double_value(&[]) as f32;

    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    // FNV-1a over the bits of every weight, in name order.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (_, t) in &variables {
        for value in Vec::<f32>::try_from(t.flatten(0, -1)).expect("f32 weights") {
            for byte in value.to_bits().to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!(
        "final loss {loss:e} (bits {:08x})\nweights {hash:016x}\ncuda available {}\n",
        loss.to_bits(),
        tch::Cuda::is_available()
    )
}
