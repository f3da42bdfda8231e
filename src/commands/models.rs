//! `scalefree models`: every model of the paper with its trainable-parameter count,
//! with and without BN (built on the CPU to count, so the counts are the code's own).
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Output classes: 10 (CIFAR-10) or 100 (CIFAR-100); at most 100,000.
    #[arg(long, default_value_t = 10, value_parser = parse_classes)]
    pub classes: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_classes(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(c) if (2..=models::MAX_CLASSES).contains(&c) => Ok(c),
        _ => Err(format!(
            "must be a whole number of classes from 2 to {} (10 for CIFAR-10, 100 for CIFAR-100)",
            models::MAX_CLASSES
        )),
    }
}

pub fn run(args: &ModelsArgs) -> Result<()> {
    let catalog = models::catalog(args.classes)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&catalog)?);
        return Ok(());
    }
    println!(
        "{:<12} {:>14} {:>14}   ({} classes)",
        "model", "with BN", "without BN", args.classes
    );
    for entry in &catalog {
        println!(
            "{:<12} {:>14} {:>14}",
            entry.name,
            thousands(entry.params_bn),
            thousands(entry.params_no_bn)
        );
    }
    println!("Any resnet<6n+2> or densenet<6n+4> also builds; these are the paper's.");
    Ok(())
}

/// `1730714` → `1,730,714`.
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(super::thousands(7), "7");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1_730_714), "1,730,714");
        assert_eq!(super::thousands(268_346), "268,346");
    }
}
