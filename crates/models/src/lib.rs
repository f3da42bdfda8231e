//! CIFAR models (arriving with the models issue).
