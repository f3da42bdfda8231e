//! CIFAR datasets and the input pipeline (arriving with the data issue).
