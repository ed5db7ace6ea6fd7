# VICReg toolkit: the two commands for a fresh machine are `make train` and `make test`.

GO        ?= go
# Tests run the whole module; the timeout bounds a hung XLA compile, not a slow machine.
TESTFLAGS ?= -count=1 -timeout 25m
BENCHTIME ?= 3x
FUZZTIME  ?= 20s
FUZZMINIMIZE ?= 10x
BENCHARGS ?=

.PHONY: all cgo xla cuda gpu-build gpu-check train test race analyze estimators bench faults fuzz lint clean

all: lint test

## xla: install the XLA CPU PJRT plugin from PyPI into ~/.local/lib/go-xla (idempotent, no root).
## Every target that runs XLA runs it first: it installs the pinned plugin where another (or an
## older pin) sits, and returns at once where the pinned one is installed.
xla: cgo
	@scripts/install-xla.sh

## cgo: go-xla loads the plugin through cgo, so a C compiler is required: say so before anything.
cgo:
	@if [ "$$($(GO) env CGO_ENABLED)" != 1 ]; then \
	  echo "make: cgo is off (no C compiler found): go-xla loads the XLA plugin through cgo; install gcc (Debian: apt-get install gcc) and run again" >&2; exit 1; fi

## cuda: install JAX's CUDA 13 PJRT plugin and its NVIDIA libraries from PyPI (pinned, sha256-checked)
## into ~/.local/lib/vicreg-cuda (VICREG_CUDA_DIR), no root, idempotent; then GOMLX_BACKEND=xla:cuda.
cuda:
	@scripts/install-cuda.sh

## gpu-build: build, strip and xz-compress into bin/gpu what scripts/gpu-check.sh runs on a GPU
## machine without Go (train, bench, the test binaries of backend, models, losses, train/trainer,
## eval, checkpoints) with MNIST; with the working tree at most 63 MiB, what one device call carries
## (so without the S3 and GCS clients: -tags nocloud).
gpu-build:
	@scripts/gpu-build.sh

## gpu-check: the prepared GPU check (scripts/gpu-check.sh; results in $$OUT or runs/gpu-check).
## Without a GPU it stops at once; `scripts/gpu-check.sh --dry-run` exercises everything else.
gpu-check:
	@scripts/gpu-check.sh

## train: the default job (MNIST, small ResNet, VICReg, linear probe) on xla:cpu.
train: xla
	$(GO) run ./train $(ARGS)

## test: every test, on the backend that GOMLX_BACKEND selects (default xla:cpu); then `make race`.
test: xla
	$(GO) run ./train -backend-info
	$(GO) test $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory race

## race: the tests of the packages that do not load XLA (the data loader and its worker pool, the
## file formats, the estimators, the plots) under the race detector. The XLA packages' tests pass
## under it too (with -tags race_mu, which makes go-xla's per-P pools visible to it), and then the
## process aborts at exit, in the race runtime's teardown beside the XLA plugin (a double free).
RACEPKGS ?= ./datasets/... ./internal/... ./results/... ./plot/... ./checkpoints/safetensors ./losses/entropy
race:
	$(GO) test -race $(TESTFLAGS) $(RACEPKGS)
	$(GO) test -race $(TESTFLAGS) -run Mirror ./checkpoints

## analyze: the paper's assumption checks on a run's checkpoints, e.g.
## make analyze ARGS="-checkpoints runs/vicreg -out runs/vicreg/analysis"
analyze: xla
	$(GO) run ./analyze $(ARGS)

## estimators: the entropy estimators' error against ground truth on synthetic Gaussians and mixtures.
estimators: xla
	$(GO) run ./analyze -estimators -out runs/estimators $(ARGS)

## bench: ours side by side with PyTorch (one table: views/s, ratio, GFLOP/s, share of the measured
## peak, compile time, peak memory), then the Go micro-benchmarks; prints numbers, asserts nothing.
## A quick run: make bench BENCHARGS='-configs w16 -batch 64 -steps 2'
bench: xla
	$(GO) run ./bench $(BENCHARGS)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m ./...

## faults: the fault-injection suite in full (20 kill -9 trials, disk full, flipped bytes, NaN, usage
## errors, a 5,000-step load run), then the fuzzers. `make test` runs its short form (3 trials).
faults: xla
	$(GO) test -count=1 -timeout 90m -v ./faults -faults.trials 20 -faults.load
	@$(MAKE) --no-print-directory fuzz

## fuzz: each fuzzer of the binary readers for FUZZTIME. Each input that reaches new code is
## minimised for FUZZMINIMIZE runs, not go test's default 60 s: with seeds of tens of KB, that
## default spent all of FUZZTIME minimising the first such input (FuzzOpenArrow ran 11 inputs in
## 20 s, matfile's FuzzDecode 6 in 10 s; with 10 runs, 15,157 and 243,405).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg || exit 1; \
	  done; \
	done

## lint: gofmt and go vet, also of the build without the S3 and GCS clients (-tags nocloud).
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags nocloud ./...

## clean: remove build output and run artefacts (not the installed plugin).
clean:
	rm -rf bin runs
	$(GO) clean -testcache
