//! The parameter sets the benchmark steps: a CIFAR ResNet's (few tensor shapes, mostly
//! 3×3 convolutions) and a transformer's (many small tensors: per block the attention and
//! MLP weights with their biases and two layer norms).

/// Parameter shapes of a CIFAR ResNet-`depth` with BN (He et al. 2016).
pub fn resnet_shapes(depth: i64) -> Vec<Vec<i64>> {
    resnet_named(depth).into_iter().map(|(_, s)| s).collect()
}

/// [`resnet_shapes`] with names as a `VarStore` would have them.
pub fn resnet_named(depth: i64) -> Vec<(String, Vec<i64>)> {
    let blocks = (depth - 2) / 6;
    let mut named = vec![
        ("conv1.weight".to_string(), vec![16, 3, 3, 3]),
        ("bn1.weight".to_string(), vec![16]),
        ("bn1.bias".to_string(), vec![16]),
    ];
    let mut in_planes = 16;
    for (stage, planes) in [16, 32, 64].into_iter().enumerate() {
        for block in 0..blocks {
            let at = format!("layer{}.{block}", stage + 1);
            named.push((format!("{at}.conv1.weight"), vec![planes, in_planes, 3, 3]));
            named.push((format!("{at}.bn1.weight"), vec![planes]));
            named.push((format!("{at}.bn1.bias"), vec![planes]));
            named.push((format!("{at}.conv2.weight"), vec![planes, planes, 3, 3]));
            named.push((format!("{at}.bn2.weight"), vec![planes]));
            named.push((format!("{at}.bn2.bias"), vec![planes]));
            in_planes = planes;
        }
    }
    named.push(("fc.weight".to_string(), vec![10, 64]));
    named.push(("fc.bias".to_string(), vec![10]));
    named
}

/// A small GPT-like transformer: 12 blocks of width 256 (attention's fused QKV and output
/// projections, a 4× MLP, two layer norms, all with biases), token and position
/// embeddings, a final norm. 150 tensors, 9.9 M parameters, most tensors small.
pub fn transformer_named() -> Vec<(String, Vec<i64>)> {
    let (width, blocks, vocab, context) = (256, 12, 2048, 256);
    let mut named = vec![
        ("tok_emb.weight".to_string(), vec![vocab, width]),
        ("pos_emb.weight".to_string(), vec![context, width]),
    ];
    for b in 0..blocks {
        let at = |part: &str| format!("blocks.{b}.{part}");
        named.extend([
            (at("ln1.weight"), vec![width]),
            (at("ln1.bias"), vec![width]),
            (at("attn.qkv.weight"), vec![3 * width, width]),
            (at("attn.qkv.bias"), vec![3 * width]),
            (at("attn.out.weight"), vec![width, width]),
            (at("attn.out.bias"), vec![width]),
            (at("ln2.weight"), vec![width]),
            (at("ln2.bias"), vec![width]),
            (at("mlp.fc1.weight"), vec![4 * width, width]),
            (at("mlp.fc1.bias"), vec![4 * width]),
            (at("mlp.fc2.weight"), vec![width, 4 * width]),
            (at("mlp.fc2.bias"), vec![width]),
        ]);
    }
    named.push(("ln_f.weight".to_string(), vec![width]));
    named.push(("ln_f.bias".to_string(), vec![width]));
    named
}

/// The named set for `--shapes`: `resnet110` (any `resnetD`) or `transformer`.
pub fn named(shapes: &str) -> anyhow::Result<Vec<(String, Vec<i64>)>> {
    if shapes == "transformer" {
        return Ok(transformer_named());
    }
    match shapes.strip_prefix("resnet").map(str::parse::<i64>) {
        Some(Ok(depth)) if depth >= 8 && (depth - 2) % 6 == 0 => Ok(resnet_named(depth)),
        _ => anyhow::bail!("--shapes must be transformer or resnetD (D = 6n + 2), not `{shapes}`"),
    }
}
