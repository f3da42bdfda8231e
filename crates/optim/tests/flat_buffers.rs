//! The flat-buffer layout: parameters and gradients live in one buffer per group, and
//! anything that replaces them is copied back in rather than silently ignored.
use adamw_prox::{AdamConfig, ParamGroup};
use tch::{nn, nn::Module, Device, Kind, Tensor};

fn inside(ptr: usize, buffer: &Tensor) -> bool {
    let start = buffer.data_ptr() as usize;
    let end = start + buffer.numel() * buffer.kind().elt_size_in_bytes();
    (start..end).contains(&ptr)
}

#[test]
fn parameters_and_their_gradients_become_views_of_the_flat_buffers() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = nn::seq()
        .add(nn::linear(vs.root() / "a", 5, 7, Default::default()))
        .add(nn::linear(vs.root() / "b", 7, 2, Default::default()));
    let mut opt = AdamConfig::adamw(1e-3, 1e-4).build(&vs).unwrap();
    let x = Tensor::randn([4, 5], (Kind::Float, Device::Cpu));
    for _ in 0..3 {
        opt.zero_grad();
        net.forward(&x).sum(Kind::Float).backward();
        opt.step().unwrap();
    }
    let group = opt.groups().next().unwrap();
    assert_eq!(group.values().numel(), 5 * 7 + 7 + 7 * 2 + 2);
    for (name, var) in vs.variables() {
        assert!(
            inside(var.data_ptr() as usize, group.values()),
            "{name} is not a view of the flat values"
        );
        assert!(
            inside(var.grad().data_ptr() as usize, group.grads()),
            "{name}'s gradient is not in the flat grads"
        );
    }
}

#[test]
fn a_replaced_parameter_or_gradient_is_copied_back_before_the_step() {
    let mut p = Tensor::zeros([4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let mut opt = AdamConfig::adamw(0.1, 0.0)
        .build_groups(vec![ParamGroup::new("g").with_param("p", p.shallow_clone())])
        .unwrap();
    // Replace the storage behind the optimizer's back, then backpropagate a known gradient.
    p.set_data(&Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]));
    (&p * Tensor::from_slice(&[1.0f32, -1.0, 1.0, -1.0]))
        .sum(Kind::Float)
        .backward();
    opt.step().unwrap();
    // Adam's first step moves each coordinate by lr·sign(g).
    let got = Vec::<f32>::try_from(&p.detach()).unwrap();
    let expected = [0.9f32, 2.1, 2.9, 4.1];
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-5, "{got:?} vs {expected:?}");
    }
}

#[test]
fn zero_grad_zeroes_every_gradient() {
    let p = Tensor::ones([3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let mut opt = AdamConfig::default()
        .build_groups(vec![ParamGroup::new("g").with_param("p", p.shallow_clone())])
        .unwrap();
    (&p * 3.0).sum(Kind::Float).backward();
    opt.step().unwrap();
    opt.zero_grad();
    assert_eq!(Vec::<f32>::try_from(&p.grad()).unwrap(), vec![0.0; 3]);
    (&p * 2.0).sum(Kind::Float).backward();
    assert_eq!(
        Vec::<f32>::try_from(&p.grad()).unwrap(),
        vec![2.0; 3],
        "gradients accumulate in place"
    );
}
