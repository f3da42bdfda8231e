//! Trains a small model and prints the result bit for bit (see train.rs).
mod train;

fn main() {
    print!("{}", train::train_and_describe());
}
