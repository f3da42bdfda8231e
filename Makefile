# scalefree: setup, the main job, tests, benchmarks.
# `make cifar10` and `make test` each run the setup first when it is missing.

SHELL := /bin/bash
# The libtorch to build for: 2.13.0 (default, tch 0.26) or 2.11.0 (tch 0.24), e.g. the
# PyTorch a GPU cluster node already has. Every target follows it: the venv, the build
# (scripts/cargo-torch.sh picks the lock file), the binary, `make bundle`.
TORCH_VERSION ?= 2.13.0
PYTHON ?= python3
ifeq ($(TORCH_VERSION),2.13.0)
TORCHVISION_VERSION := 0.28.0
VENV := $(CURDIR)/.venv
BIN_DIR := target/release
else ifeq ($(TORCH_VERSION),2.11.0)
TORCHVISION_VERSION := 0.26.0
VENV := $(CURDIR)/.venv-torch-$(TORCH_VERSION)
BIN_DIR := target/torch-$(TORCH_VERSION)/target/release
else
$(error TORCH_VERSION=$(TORCH_VERSION) is not supported: 2.13.0 (the default) or 2.11.0)
endif
VENV_STAMP := $(VENV)/.installed-torch-$(TORCH_VERSION)
# The torch wheel's CUDA flavour (cu126, cu128, …): empty takes PyPI's default wheel. A GPU
# whose driver is older than that wheel's CUDA is invisible to libtorch (`scalefree` then
# says so); choose a flavour the driver supports: `make clean-venv && make setup TORCH_CUDA=cu126`.
TORCH_CUDA ?=
TORCH_INDEX := $(if $(TORCH_CUDA),--index-url https://download.pytorch.org/whl/$(TORCH_CUDA))
# torchvision: for the PyTorch side of `make bench` (and its tests) only.
TORCHVISION_STAMP := $(VENV)/.installed-torchvision-$(TORCHVISION_VERSION)
BIN := $(BIN_DIR)/scalefree

# Build against the user's libtorch when LIBTORCH is set, else against the pinned
# torch wheel in the venv (torch-sys asks that venv's python where libtorch lives).
ifdef LIBTORCH
# torch-sys prefers LIBTORCH_USE_PYTORCH over LIBTORCH when both are set.
TORCH_ENV := env -u LIBTORCH_USE_PYTORCH LIBTORCH=$(LIBTORCH)
TORCH_DEPS :=
else
TORCH_ENV := LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV=$(VENV) PATH="$(VENV)/bin:$$PATH"
TORCH_DEPS := $(VENV_STAMP)
endif
CARGO := $(TORCH_ENV) scripts/cargo-torch.sh $(TORCH_VERSION)

.PHONY: setup build test bench bench-optim bench-rust lint clean-venv info

setup: system-deps build

# System packages (scripts/system-deps.sh): as root, what is missing is installed with
# apt-get; as another user, the script says once what is missing and the command that
# installs it. `setup` needs a font for the PNG figures (or SCALEFREE_FONT) and stops
# without one; `test-deps` adds chromium and Slurm, whose tests skip with a message when
# they are missing (CI=true makes them fail).
.PHONY: system-deps
system-deps:
	@bash scripts/system-deps.sh setup

$(VENV_STAMP):
	@echo "== creating $(VENV) with torch==$(TORCH_VERSION) (about 5 GB, once)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION) $(TORCH_INDEX)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check tensorboard
	touch $@

build: $(TORCH_DEPS)
	$(CARGO) build --release --workspace --all-targets

test: setup test-deps
	$(CARGO) test --release --workspace

# `make test-quick`: for while you edit, one to two minutes once built (52 s here on 2
# cores, 2 min 15 s with other jobs on them) instead of `make test`'s 25 minutes: the unit
# tests of every crate and the integration tests that run in-process. Chosen by running
# each test file alone after a build (`cargo test --release --test NAME`, its "finished
# in"): none of these trains, sweeps or reports through the `scalefree` binary (refusals
# included; `scalefree --help`, `info` and `make -n` are fine), needs a browser, Slurm or
# the venv's Python, and each took under 7 s here but the models crate's batch_norm and
# forward_backward (4 to 48 s, as busy as the machine was), kept as the models' own
# checks. tests/make_targets.rs checks that each name is a test file.
QUICK_TESTS := data_errors data_formats data_location data_pinned data_pipeline import_graph \
  make_targets report_out_dir report_seeds report_summary_refresh repo_citations settings_table \
  torch_versions train_device_stats train_session \
  batch_norm forward_backward names parameter_counts seeds shortcut size \
  clip device flat_buffers frozen libtorch_match loss_scale master_weights prox_vs_adamw \
  reference scale_free settings state var_store optimizer_names invariance optimizer_table \
  report_factorial factorial_files report_natural_gap written_out
.PHONY: test-quick
test-quick: $(TORCH_DEPS)
	$(CARGO) test --release --workspace --lib $(addprefix --test ,$(QUICK_TESTS))

# What the tests need beyond the build: headless Chromium (the report renders in a real
# browser), Slurm with munge (a sweep runs through a real single-node cluster; root only)
# and torchvision (the PyTorch side of the benchmarks is tested too).
.PHONY: test-deps setup-slurm
test-deps: $(TORCHVISION_STAMP)
	@bash scripts/system-deps.sh test

setup-slurm:
	bash scripts/slurm-cluster.sh install

# `make bench-optim`: the optimizer step on ResNet shapes: each decay mode against libtorch's
# AdamW and the memory floor, AdamW against tch's nn::AdamW, and each rule (AdamW, SGD,
# Lion, RMSprop, Adagrad; 1 and 2 threads) against PyTorch's fastest CPU implementation,
# run by the venv's Python (bench/pytorch/optim_step.py). BENCH_OPTIM_ARGS passes flags
# (e.g. --only torch --reps 11); bench/results/optim-<time>.json.
bench-optim: setup $(VENV_STAMP)
	@mkdir -p bench/results
	$(CARGO) run --release -p adamw-prox --example bench_optim -- --out bench/results \
	  --python $(VENV)/bin/python $(BENCH_OPTIM_ARGS)

# `make bench`: every scalefree benchmark beside its PyTorch counterpart (bench/pytorch/),
# alternating, on the real CIFAR-10; bench/results/<date>.json and .md. torchvision is
# installed into .venv for this only. BENCH_ARGS passes options to bench/compare.py.
$(TORCHVISION_STAMP): $(VENV_STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check torchvision==$(TORCHVISION_VERSION)
	touch $@

.PHONY: torchvision
torchvision: $(TORCHVISION_STAMP)

bench: setup data $(TORCHVISION_STAMP)
	@mkdir -p bench/results
	$(VENV)/bin/python bench/compare.py --bin-dir $(BIN_DIR) $(BENCH_ARGS)

# `make bench-placement`: what the sweep's CPU placement rule (src/sweep/cpu_placement.rs)
# is measured from: per model and precision, one run on every core against that many
# single-thread runs side by side, alternating (bench/results/placement-<date>.json).
# PLACEMENT_ARGS passes options (--rounds, --models resnet20:bf16,densenet100-bn:fp32 …).
.PHONY: bench-placement
bench-placement: setup data
	@mkdir -p bench/results
	$(VENV)/bin/python bench/placement.py --bin $(BIN) $(PLACEMENT_ARGS)

# The Rust-side benchmarks: kernels, layouts, cold/cached loads and logging variants
# (bench-optim also times PyTorch's optimizers through the venv's Python).
bench-rust: bench-optim bench-models bench-data bench-train

# Formatting, clippy, and the optimizer crate (adamw-prox) packaged and checked for
# publishing on its own, which builds the packaged copy; its documentation as docs.rs
# builds it (the doc-only feature: no libtorch), without a warning.
lint: $(TORCH_DEPS)
	cargo fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) package -p adamw-prox --allow-dirty
	$(CARGO) publish -p adamw-prox --dry-run --allow-dirty
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p adamw-prox --no-deps --features doc-only \
	  --target-dir target/doc-only

info: setup
	$(BIN) info

# Every target compiled (no code generated) for the given TORCH_VERSION; CI runs
# `make check-torch-versions` so that the non-default libtorch cannot rot.
.PHONY: check check-torch-versions
check: $(TORCH_DEPS)
	$(CARGO) check --workspace --all-targets

# Compiling needs libtorch's headers and libraries, not the CUDA runtime: where the 2.11
# venv is missing, the torch wheel alone (--no-deps: 1.2 GB instead of 4.8 GB with its
# nvidia-* packages) is unpacked under target/ and passed as LIBTORCH.
CHECK_211_VENV_STAMP := $(CURDIR)/.venv-torch-2.11.0/.installed-torch-2.11.0
CHECK_211_WHEEL := $(CURDIR)/target/torch-2.11.0/wheel
check-torch-versions:
ifneq ($(wildcard $(CHECK_211_VENV_STAMP)),)
	$(MAKE) check TORCH_VERSION=2.11.0 LIBTORCH=
else
	@test -f $(CHECK_211_WHEEL)/.installed || { \
	  echo "== unpacking the torch 2.11.0 wheel (no dependencies) into $(CHECK_211_WHEEL)"; \
	  rm -rf $(CHECK_211_WHEEL) && \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
	    --target $(CHECK_211_WHEEL) torch==2.11.0 $(TORCH_INDEX) && \
	  touch $(CHECK_211_WHEEL)/.installed; }
	$(MAKE) check TORCH_VERSION=2.11.0 LIBTORCH=$(CHECK_211_WHEEL)/torch
endif

# `make bundle [TORCH_VERSION=2.11.0]`: what a GPU node with PyTorch but no Rust and no
# network needs to run scalefree, bench/gpu.sh included: dist/scalefree-<version>-torch-
# <TORCH_VERSION>/ and its .tar.gz (scripts/bundle.sh says what goes in).
.PHONY: bundle bundle-binaries
bundle-binaries: $(TORCH_DEPS)
	$(CARGO) build --release -p scalefree --bin scalefree --example bench_data
	$(CARGO) build --release -p adamw-prox --example bench_optim

bundle: bundle-binaries
	bash scripts/bundle.sh $(TORCH_VERSION) $(BIN_DIR) dist

clean-venv:
	rm -rf $(VENV)

# `make data`: CIFAR-10 at data/cifar10 (DATASET=cifar100: data/cifar100), from
# CIFAR10_SOURCE / CIFAR100_SOURCE when given, else the official archive (see the script).
DATASET ?= cifar10
.PHONY: data bench-data

data:
	DATASET=$(DATASET) CIFAR10_SOURCE="$(CIFAR10_SOURCE)" CIFAR100_SOURCE="$(CIFAR100_SOURCE)" bash scripts/get-data.sh

# The data pipeline on the real CIFAR-10 ($CIFAR10_JPEG, else data/cifar10 from `make data`).
bench-data: setup
	@mkdir -p bench/results
	$(CARGO) run --release --example bench_data -- --out bench/results

# Forward + backward images/s of ResNet-20/56/110 and DenseNet-BC-100, BN and no BN, on the CPU.
.PHONY: bench-models
bench-models: setup
	@mkdir -p bench/results
	$(CARGO) run --release -p models --example bench_models -- --out bench/results

.PHONY: cifar10 bench-train tensorboard
# The main job: set up, get CIFAR-10, run the experiment, write its report: paper-best on
# a GPU machine; on a CPU cifar10-quick-bf16 where the CPU computes bfloat16 natively
# (AVX512-BF16 or AMX: 1.57x faster here, the same verdict, each lane within the float32
# lane's CI; see the README), cifar10-quick (float32) elsewhere. EXPERIMENT=... chooses.
cifar10: setup data
	@exp="$(EXPERIMENT)"; \
	if [ -z "$$exp" ]; then \
	  info=$$($(BIN) info --json); \
	  if echo "$$info" | grep -q '"cuda_available": true'; then exp=paper-best; \
	  elif echo "$$info" | grep -Eq '"cpu_bf16_features": *\[ *\]'; then exp=cifar10-quick; \
	  else exp=cifar10-quick-bf16; fi; \
	fi; \
	bash scripts/run-experiment.sh $(BIN) $$exp $(TB_PORT)

# `make factorial`: the factorial test of claim 4 (docs/factorial.md): the four Adam arms
# (decay through the moments or decoupled × scale-free or not) under spread:0–3 and
# equalize, 6 seeds, on ResNet-20 without BN at cifar10-quick's budget in bf16 (120 runs,
# about 54 min on 2 cores here one run at a time; the sweep now places two at once).
# `make families`: every optimizer of the crate without factors and under spread:3,
# 3 seeds (78 runs): which are scale-free in practice.
.PHONY: factorial families
factorial: setup data
	bash scripts/run-experiment.sh $(BIN) factorial-cpu $(TB_PORT)

families: setup data
	bash scripts/run-experiment.sh $(BIN) families-cpu $(TB_PORT)

# `make natural-budget`: the budget search of the factorial's natural half, AdamW − Adam-ℓ2
# without factors on ResNet-20 (40 epochs) and ResNet-56 (10 epochs) evaluated every 5
# epochs, 4 seeds (16 runs): the report's "natural gap over training" gives every shorter
# budget. `make natural-half`: the four Adam arms without factors and under equalize at
# the budget it found (ResNet-20, 5,000 images, 20 epochs), 4 fresh seeds (32 runs).
.PHONY: natural-budget natural-half
natural-budget: setup data
	bash scripts/run-experiment.sh $(BIN) natural-budget $(TB_PORT)

natural-half: setup data
	bash scripts/run-experiment.sh $(BIN) natural-half-cpu $(TB_PORT)

# Full training steps through `scalefree train`, histogram logging off / default / every step.
bench-train: setup data
	@mkdir -p bench/results
	$(CARGO) run --release --example bench_train -- --out bench/results

# TensorBoard on every run under runs/, for this machine only: http://localhost:6006.
# EXPERIMENT=<name> opens one experiment (runs/<name>): its grid in HParams and its summary
# run. TB_HOST=0.0.0.0 serves it to every machine that can reach this one (no password:
# anyone on the network can read every run); TB_PORT changes the port.
TB_HOST ?= localhost
TB_PORT ?= 6006
# RUNS=<folder>: the runs are elsewhere than runs/ (`scalefree sweep --runs <folder>`).
RUNS ?= runs
TB_LOGDIR = $(RUNS)$(if $(EXPERIMENT),/$(EXPERIMENT))
tensorboard: $(VENV_STAMP)
	@test -d $(TB_LOGDIR) || { echo "no $(TB_LOGDIR): sweep the experiment first (scalefree sweep $(or $(EXPERIMENT),NAME))" >&2; exit 1; }
	$(VENV)/bin/tensorboard --logdir $(TB_LOGDIR) --host $(TB_HOST) --port $(TB_PORT)
