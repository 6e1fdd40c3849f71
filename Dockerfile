# syntax=docker/dockerfile:1
# The capprof agent image: otelcol-capprof, static, on distroless.
#   docker build -t docker.io/capprof/otelcol-capprof:dev .
# `make image` builds the same image without Docker (bin/otelcol-capprof-image.tar);
# `make test-dockerfile` builds this file with buildah and checks that both agree.
# The image runs as uid 0: the agent needs CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE
# and CAP_SYSLOG, which Kubernetes grants only to uid 0 (deploy/README.md). The
# gateway Deployment runs the same image as uid 65534.

FROM docker.io/library/golang:1.26 AS build
WORKDIR /src
COPY . .
ARG VERSION=0.0.0-dev
# The Go proxy settings of the machine that builds, where it has its own
# (empty: Go's defaults), e.g. --build-arg GOPROXY="$(go env GOPROXY)".
ARG GOPROXY
ARG GOSUMDB
ARG GONOSUMDB
ARG GONOPROXY
ARG GOPRIVATE
ARG GOINSECURE
RUN --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/otelcol-capprof ./cmd/otelcol-capprof

FROM gcr.io/distroless/static-debian12:latest
ARG VERSION=0.0.0-dev
LABEL org.opencontainers.image.source=https://github.com/capprof/capprof \
      org.opencontainers.image.version=${VERSION}
COPY --from=build /out/otelcol-capprof /otelcol-capprof
USER 0:0
ENTRYPOINT ["/otelcol-capprof"]
CMD ["--config=/etc/otelcol-capprof/config.yaml"]
