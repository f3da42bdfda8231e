//! Option-A shortcuts: strided, zero-padded identity, and the ResNet really uses them.
use models::{option_a_shortcut, Model, ModelConfig};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

#[test]
fn the_shortcut_keeps_every_second_pixel_and_pads_planes_over_4_zero_channels_on_each_side() {
    let (batch, channels, size) = (2i64, 16i64, 8i64);
    let xs = Tensor::arange(batch * channels * size * size, (Kind::Float, Device::Cpu))
        .view([batch, channels, size, size]);
    let out = option_a_shortcut(&xs, 32);
    assert_eq!(out.size(), [batch, 32, size / 2, size / 2]);

    let value = |n: i64, c: i64, h: i64, w: i64| ((n * channels + c) * size + h) * size + w;
    for n in 0..batch {
        for c in 0..32 {
            for h in 0..size / 2 {
                for w in 0..size / 2 {
                    let expected = if (8..24).contains(&c) {
                        value(n, c - 8, 2 * h, 2 * w) as f64
                    } else {
                        0.0
                    };
                    assert_eq!(
                        out.double_value(&[n, c, h, w]),
                        expected,
                        "at [{n}, {c}, {h}, {w}]"
                    );
                }
            }
        }
    }
}

/// ResNet-8 without BN, every block's convs zeroed: each block is then relu(shortcut(x)),
/// so the logits are fc(mean(pad(stride(pad(stride(relu(stem(x))))))))).
#[test]
fn a_resnet_with_zeroed_blocks_passes_its_input_through_the_option_a_shortcuts() {
    let vs = VarStore::new(Device::Cpu);
    let model = Model::new(&vs.root(), &ModelConfig::new("resnet8", false, 10, 3)).unwrap();
    let vars = vs.variables();
    tch::no_grad(|| {
        for (name, var) in &vars {
            if name.starts_with("stage") {
                let _ = var.shallow_clone().zero_();
            }
        }
    });
    let images = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let logits = tch::no_grad(|| model.forward_t(&images, false));

    let stem = images
        .conv2d(&vars["conv1.weight"], None::<Tensor>, [1], [1], [1], 1)
        .relu();
    let features = option_a_shortcut(&option_a_shortcut(&stem, 32), 64);
    assert_eq!(features.size(), [2, 64, 8, 8]);
    let expected = features
        .mean_dim([2i64, 3].as_slice(), false, None)
        .linear(&vars["fc.weight"], Some(&vars["fc.bias"]));
    assert!(
        logits.allclose(&expected, 1e-5, 1e-6, false),
        "{logits} vs {expected}"
    );
}
