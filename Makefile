# capprof — see README.md. Targets that load BPF need root.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 10s
# Stamped into otelcol-capprof (--version, components).
VERSION   ?= $(shell git describe --tags --dirty 2>/dev/null || echo 0.0.0-dev)
# ocb, the collector builder, at the collector release go.mod pins.
OCB_VERSION ?= v0.160.0
OCB_MANIFEST ?= otelcol-config/builder-config.yaml
# Debian packages the integration tests need (chromium: the HTML report's
# tests load it in a real browser; buildah: the Dockerfile is built;
# prometheus: the Grafana dashboard's queries are run against it), and
# those `make generate` needs; test/install-debs.sh installs what is missing.
TEST_DEBS := containerd runc busybox-static util-linux bpftrace etcd-server etcd-client nginx-light chromium buildah prometheus
GEN_DEBS  := clang llvm libbpf-dev


.PHONY: all
all: build

.PHONY: build
build: build-capprof build-otelcol

.PHONY: build-capprof
build-capprof:
	$(GO) build -o $(BIN)/capprof ./cmd/capprof

# capprof's OpenTelemetry Collector distribution (cmd/otelcol-capprof).
.PHONY: build-otelcol
build-otelcol:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/otelcol-capprof ./cmd/otelcol-capprof

# The main job: run the collector distribution with its embedded default,
# otelcol-config/local.yaml: every capability check on this host, printed and
# appended to capprof-data/checks.jsonl (OTLP/JSON lines), until Ctrl-C.
# Needs root: sudo make run. Pass collector flags with ARGS, e.g.
# make run ARGS="--set=receivers.capabilities.verdict=denied", or
# make run ARGS="--config=otelcol-config/examples/denied-only.yaml".
.PHONY: run
run: build-otelcol
	mkdir -p capprof-data
	$(BIN)/otelcol-capprof $(ARGS)

# The agent's container image, docker-free: a static otelcol-capprof packed
# by cmd/ociimage into an OCI image layout tarball, the twin of the
# Dockerfile's image (same files, entrypoint and user). Load it with
# ctr -n k8s.io image import bin/otelcol-capprof-image.tar.
IMAGE     ?= docker.io/capprof/otelcol-capprof:$(VERSION)
IMAGE_TAR ?= $(BIN)/otelcol-capprof-image.tar
CA_BUNDLE := /etc/ssl/certs/ca-certificates.crt
.PHONY: image
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" \
	  -o $(BIN)/image/otelcol-capprof ./cmd/otelcol-capprof
	$(GO) run ./cmd/ociimage -name $(IMAGE) -o $(IMAGE_TAR) -user 0:0 \
	  -entrypoint /otelcol-capprof -cmd --config=/etc/otelcol-capprof/config.yaml \
	  -dir etc -dir tmp -file $(BIN)/image/otelcol-capprof:otelcol-capprof:0755 \
	  -file deploy/image/passwd:etc/passwd -file deploy/image/group:etc/group \
	  $(if $(wildcard $(CA_BUNDLE)),-dir etc/ssl -dir etc/ssl/certs -file $(CA_BUNDLE):etc/ssl/certs/ca-certificates.crt) \
	  -label org.opencontainers.image.source=https://github.com/capprof/capprof \
	  -label org.opencontainers.image.version=$(VERSION)
	@echo "image $(IMAGE) in $(IMAGE_TAR)"

# The Kubernetes manifests of deploy/ as kubectl would apply them, rendered by
# kustomize pinned in internal/tools/kustomize (no kubectl needed). OVERLAY
# picks the directory.
OVERLAY   ?= deploy/overlays/demo
KUSTOMIZE := $(GO) tool -modfile=internal/tools/kustomize/go.mod kustomize
.PHONY: render
render:
	@$(KUSTOMIZE) build $(OVERLAY)

# The Helm chart deploy/helm/capprof, with Helm pinned in internal/tools/helm
# (no helm binary needed): `make helm ARGS="template capprof deploy/helm/capprof
# -n capprof"`. helm-lint lints it strictly (part of `make test`); test/k8se2e
# renders it against deploy/base and dry-runs it on a real kube-apiserver.
HELM := $(GO) tool -modfile=internal/tools/helm/go.mod helm
.PHONY: helm
helm:
	@$(HELM) $(ARGS)

.PHONY: helm-lint
helm-lint:
	$(HELM) lint --strict deploy/helm/capprof
	$(HELM) lint --strict deploy/helm/capprof --namespace observability \
	  --set agent.mode=stream,agent.audit=all,agent.labels=all --set-json 'agent.exporters={"debug":{}}'

# The Kubernetes end-to-end test (test/k8se2e, root): etcd, a kube-apiserver
# (built from the Go module proxy on first use and cached, ~6 min), a private
# containerd, the agent image with the DaemonSet's security context, and the
# Star Wars demo on two nodes (xwing running dmesg as uid 65534, the
# deathstar Deployment on both) through the real gateway to its profiles;
# then three gateway replicas behind the load_balancing exporter, scaled and
# restarted under load with mutual TLS, and the TLS refusal (test/e2e, files
# tagged e2e).
.PHONY: e2e
e2e: prepare-host kube-apiserver
	$(GO) test -tags e2e -count=1 -v -timeout 40m ./test/k8se2e/
	$(GO) test -tags 'integration e2e' -count=1 -v -timeout 20m -run 'TestGatewayReplicasScale|TestGatewayRefusesUnauthenticatedSenders' ./test/e2e/

# The standalone CLI: record checks, pretty-printed, until Ctrl-C. Pass flags
# with ARGS, e.g. make record ARGS="--format json --verdict denied".
.PHONY: record
record: build-capprof
	$(BIN)/capprof record $(ARGS)

# The distribution must keep building off Linux, where the receiver is a stub.
.PHONY: cross
cross:
	GOOS=darwin GOARCH=amd64 $(GO) build -o /dev/null ./cmd/otelcol-capprof

# Install ocb into bin/, build OCB_MANIFEST (by default the ocb manifest of
# this distribution) into a temporary directory, and validate local.yaml and
# the gateway's deploy/base/gateway-config.yaml with the binary. About 5 minutes with a cold build cache.
# - No fallback ocb version: ocb writes its own release's otelcol into the
#   generated go.mod (not settable in the manifest), so another version would
#   break the single-release pin.
# - GOFLAGS=-e reaches only ocb's `go mod tidy` (other go commands do not know
#   -e and ignore it): tidy also loads the tests of the components' packages,
#   and the module proxy refuses one of their test-only modules
#   (contrib extension/encoding/otlpencodingextension v0.160.0, 403). A module
#   the binary needs would still fail the compilation.
.PHONY: check-ocb
check-ocb:
	GOBIN=$(abspath $(BIN)) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  TMPDIR="$$tmp" GOFLAGS="$$GOFLAGS -e" $(BIN)/builder --config=$(OCB_MANIFEST) \
	    --output-path="$$tmp/dist" --skip-compilation=false && \
	  bad=$$(grep -E 'go.opentelemetry.io/collector|opentelemetry-collector-contrib' "$$tmp/dist/go.mod" | grep -v '^//' | \
	    awk '{print $$2}' | grep -vxE 'v0.160.0|v1.66.0' | sort -u) && \
	  if [ -n "$$bad" ]; then echo "check-ocb: collector modules off the pinned release: $$bad"; exit 1; fi && \
	  "$$tmp/dist/otelcol-capprof" validate --config=otelcol-config/local.yaml && \
	  PROFILE_STORAGE_DIR="$$tmp/profiles" "$$tmp/dist/otelcol-capprof" validate --config=deploy/base/gateway-config.yaml && \
	  echo "check-ocb: built and validated with ocb $(OCB_VERSION)"

# The whole suite (the README's test command, root): the Helm chart's lint,
# the Go tests, the Dockerfile built with buildah, the recorder on real
# kernels in VMs, and the Kubernetes end-to-end test. It
# sets up what it needs itself (prepare-host, kube-apiserver) and says so.
# With CI=true a missing prerequisite fails a test instead of skipping it.
.PHONY: test
test: helm-lint test-go test-kyverno test-dockerfile test-kernels e2e

# The kyverno format of capprof profile, strictly unmarshalled into Kyverno's
# own Go types and checked by Kyverno's Policy.Validate (test/kyverno, a
# module of its own: Kyverno's ~200 modules stay out of go.mod). The first
# run downloads and compiles them: a few minutes.
.PHONY: test-kyverno
test-kyverno:
	cd test/kyverno && $(GO) test -count=1 ./...

# What the tests need of this machine, done when missing and reported:
# TEST_DEBS, tracefs, bpffs, a cgroup2 mount, dmesg_restrict=1.
.PHONY: prepare-host
prepare-host:
	@test/prepare-host.sh $(TEST_DEBS)

# Unit tests and the integration tests against the real kernel, cgroups,
# containerd, the collector binary and a real kube-apiserver with etcd, in
# this host's cgroup layout; then the packages whose subject is cgroups
# again in the other layout this machine kind comes with (hybrid or
# unified), in a private mount namespace (test/other-cgroup-layout.sh).
# Not the containerd tests (LAYOUT_SKIP): the resource controllers stay with
# the host's layout, and runc cannot set up a container in a unified layout
# whose controllers a hybrid host keeps in v1; nor the HTML report's browser
# test, which has nothing to do with cgroups.
LAYOUT_PKGS := ./internal/cgroup/ ./cmd/capprof/
LAYOUT_SKIP := TestRecordWithKubeconfigAddsPodMetadata|TestRecordNamespaceSelectorRecordsOnlyThosePods|TestReportInChromium
.PHONY: test-go
test-go: prepare-host vet kube-apiserver
	$(GO) test -tags integration -count=1 ./...
	test/other-cgroup-layout.sh $(GO) test -tags integration -count=1 -skip '$(LAYOUT_SKIP)' $(LAYOUT_PKGS)

# The recorder on real kernels with the real controller (test/kernelcheck):
# here with every attach method that works on this kernel, then in qemu
# TCG VMs (test/vm/matrix.sh, two boots at a time): Debian 11's 5.10 (the
# floor), 12's 6.1 and 13's 6.12 on amd64 with fexit, kprobe and auto, and
# 12's 6.1 on arm64 with kprobe and auto (no fexit on kernel functions
# before 6.4 there). The VMs' rows make docs/recorder.md's kernels ×
# features table (written here; with CI=true checked instead). The kernels
# are cached in ~/.cache/capprof-vm. Needs root.
# The checker is built into a directory that uid 65534, which runs its
# workloads, can read.
.PHONY: test-kernels
test-kernels: prepare-host
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && chmod 755 "$$tmp" && \
	  CGO_ENABLED=0 $(GO) build -o "$$tmp/kernelcheck" ./test/kernelcheck && \
	  echo "== kernelcheck on this host ($$(uname -r))" && "$$tmp/kernelcheck" -attach all && \
	  echo "== kernelcheck on this host in the other cgroup layout" && test/other-cgroup-layout.sh "$$tmp/kernelcheck" -attach auto
	GO=$(GO) test/vm/matrix.sh

# capprof's counts against bpftrace's on the same workload (part of `make test-go`).
.PHONY: test-crosscheck
test-crosscheck: prepare-host
	$(GO) test -tags integration -count=1 -v ./test/crosscheck/

# The Dockerfile, built with buildah (root, vfs storage, --pull=never) against
# local stand-ins for its base images (test/dockerfile/build.sh), compared
# with `make image`'s tarball file by file, and run under containerd
# (test/dockerfile). The build reuses this machine's Go module and build
# caches: 86-153 s with warm caches here (a cold build cache: 19 min on a busy machine).
.PHONY: test-dockerfile
test-dockerfile: prepare-host
	$(GO) test -tags dockerfile -count=1 -v -timeout 30m ./test/dockerfile/

# kube-apiserver for internal/kube's integration tests (internal/testenv
# StartKube): built once from the Go module proxy into ~/.cache/capprof-kube
# (5-15 minutes, ~3 GB of build cache); a no-op when cached.
.PHONY: kube-apiserver
kube-apiserver:
	GO=$(GO) test/kube/build-apiserver.sh

# Unit tests only: no root, no BPF.
.PHONY: test-unit
test-unit:
	$(GO) test -count=1 ./...

.PHONY: vet
vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) vet -tags 'integration e2e' ./test/...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

.PHONY: deps-generate
deps-generate:
	@test/install-debs.sh $(GEN_DEBS)

# Rebuild the committed BPF objects and bindings (clang), syscall tables,
# and the capprof.dev API's deepcopy and CRDs.
.PHONY: generate
generate: deps-generate generate-api
	$(GO) generate ./bpf/ ./internal/syscalls/

# api/v1alpha1's deepcopy functions and the CRDs in deploy/crds, from the Go
# types, by controller-gen pinned in internal/tools/controllergen.
CONTROLLER_GEN := $(GO) tool -modfile=internal/tools/controllergen/go.mod controller-gen
.PHONY: generate-api
generate-api:
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=deploy/crds

# CI: the committed generated files must be what `make generate` makes.
GENERATED := bpf internal/syscalls api deploy/crds
.PHONY: check-generate
check-generate: generate
	@git diff --exit-code --stat -- $(GENERATED) || \
	  { echo "generated files are stale: run make generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- $(GENERATED)); \
	  if [ -n "$$untracked" ]; then echo "generated files not committed: $$untracked"; exit 1; fi

# The kernel types the BPF programs compile against, one header per target
# (bpf/vmlinux.h picks one). bpftool is in the Debian package bpftool.
# vmlinux-x86: from the running kernel's BTF, on an x86_64 machine.
.PHONY: vmlinux-x86
vmlinux-x86:
	@[ "$$(uname -m)" = x86_64 ] || { echo "vmlinux-x86 reads the running kernel's BTF: run it on x86_64"; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux_x86.h

# vmlinux-arm64: from Debian's current arm64 kernel package (the one the
# arm64 VM of test-kernels boots), whose BTF is cut out of its boot image.
.PHONY: vmlinux-arm64
vmlinux-arm64:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  kernel=$$(GO=$(GO) test/vm/run.sh -k arm64) && \
	  $(GO) run ./bpf/extractbtf -o "$$tmp/vmlinux.btf" "$$kernel" && \
	  bpftool btf dump file "$$tmp/vmlinux.btf" format c > "$$tmp/vmlinux_arm64.h" && \
	  mv "$$tmp/vmlinux_arm64.h" bpf/vmlinux_arm64.h && echo "bpf/vmlinux_arm64.h from $$kernel"

# Per-check cost of an audited and a NOAUDIT check: nothing attached vs an empty
# program vs capprof unique and stream with audit all and audited, side by side;
# then a mixed non-root workload (MIXED long). ROUNDS and N tune the run;
# KERNEL_BASE=REV (a git revision) measures its recorders in the same rounds.
.PHONY: bench-kernel
bench-kernel:
	$(GO) build -o $(BIN)/benchkernel ./test/benchkernel
	$(BIN)/benchkernel -rounds $${ROUNDS:-11} -n $${N:-1000000} -mixed $${MIXED:-20s} $(if $(KERNEL_BASE),-base $(KERNEL_BASE))

# Records per second: decoding and attributing a check; then, side by side
# with PIPELINE_BASE (a git revision; by default the last one with process.*
# on every record) in one run, records per CPU-second mapping checks to
# plog.Logs and through receiver -> batch -> otlp exporter -> a local sink.
PIPELINE_BASE ?= 8b24e92
.PHONY: bench-pipeline
bench-pipeline:
	$(GO) test -run '^$$' -bench 'HandleCheck' -benchtime 3s ./internal/controller/
	$(GO) run ./test/benchpipeline -base $(PIPELINE_BASE)

# The HTML report at scale: 2,000 workloads x 41 capabilities, written and
# loaded in headless Chromium beside the 3-workload demo page; page size and
# render time against the budgets (5 MB, 2 s). Needs chromium (TEST_DEBS).
.PHONY: bench-report
bench-report:
	$(GO) test -run '^$$' -bench 'ReportScale' -benchtime $${N:-3}x ./internal/report/

# Resident memory of otelcol-capprof with its default config (recording only
# the benchmark's cgroup; ARGS=-host for the whole machine), idle and at RATE
# checks/s, split into binary, BPF maps and anonymous. Needs root. Built
# into $(BIN), not run by go run: its worker re-executes it as uid 65534,
# which cannot read go run's private build directory.
.PHONY: bench-memory
bench-memory: build-otelcol
	$(GO) build -o $(BIN)/benchmemory ./test/benchmemory
	$(BIN)/benchmemory -bin $(BIN)/otelcol-capprof -idle $${IDLE:-30s} -load $${LOAD:-30s} -rate $${RATE:-50000} $(ARGS)

# A large cluster on this machine (test/benchcluster, no root): NODES x PODS
# pods' checks, from a recorded sample of the agents' records with varied
# identities, through agent-side load_balancing exporters (real
# otelcol-capprof processes) to 1, 2 and 4 real gateways
# (deploy/base/gateway-config.yaml); records/s, records per CPU-second,
# per-gateway balance, memory per 10k profiles, and every profile exact.
# A few minutes at the default 1,000 x 30; ARGS passes more flags
# (-gateways 1,2,4 -rounds 1 -agents 2 -bare 0.1 -replicas 3 ...).
.PHONY: bench-cluster
bench-cluster: build-otelcol
	$(GO) run ./test/benchcluster -bin $(BIN)/otelcol-capprof -nodes $${NODES:-1000} -pods $${PODS:-30} $(ARGS)

.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime $(FUZZTIME) ./internal/cgroup/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSet$$' -fuzztime $(FUZZTIME) ./internal/caps/
	$(GO) test -run '^$$' -fuzz '^FuzzName$$' -fuzztime $(FUZZTIME) ./internal/syscalls/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/tracer/

.PHONY: clean
clean:
	rm -rf $(BIN) _build
