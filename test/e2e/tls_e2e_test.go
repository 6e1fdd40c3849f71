//go:build integration && e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

// sysAdminCheck is a granted CAP_SYS_ADMIN check of a Deployment's
// container, the record a forger would send to make the workload's advice
// add SYS_ADMIN.
func sysAdminCheck(workload string) plog.Logs {
	c := check.Check{Time: time.Now(), Cap: 21, Audit: check.Audited, PID: 7, HostName: "node-x",
		Process: proc.Info{PID: 7, ExecutablePath: "/bin/mount"}, UserNS: check.UserNamespace{IsHost: true},
		Kubernetes: &check.Kubernetes{Namespace: "shop", PodName: workload + "-1", ContainerName: "app", Deployment: workload}}
	return new(checklogs.Mapper).Logs([]check.Check{c})
}

// export sends logs to addr over OTLP/gRPC with creds.
func export(t *testing.T, addr string, creds credentials.TransportCredentials, logs plog.Logs) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(logs))
	return err
}

// clientTLS is what a sender presents: the gateway's CA to check it by,
// and the client certificate of dir, if any.
func clientTLS(t *testing.T, caPEM []byte, certDir string) credentials.TransportCredentials {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, ServerName: gatewayTLSName, MinVersion: tls.VersionTLS12}
	if certDir != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg)
}

// TestGatewayRefusesUnauthenticatedSenders runs a gateway replica as
// deployed (gateway-tls.yaml over gateway-config.yaml) and sends it a
// forged CAP_SYS_ADMIN check of Deployment shop/victim in plain text, over
// TLS without a client certificate, and with a certificate of another CA:
// each is refused and no profile of the workload exists. A record with the
// agents' certificate arrives.
func TestGatewayRefusesUnauthenticatedSenders(t *testing.T) {
	requireE2E(t)
	ca, rogue := newTestCA(t, "capprof-ca"), newTestCA(t, "rogue-ca")
	g := newGatewayReplicas(t, "127.0.0.", 1, ca.issue(t, "capprof-gateway", gatewayTLSName, ca))
	agentTLS := ca.issue(t, "capprof-agent", "", ca)
	rogueTLS := rogue.issue(t, "capprof-agent", "", ca) // the right name, the wrong issuer
	g.start(0)

	for _, tt := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{name: "plain text", creds: insecure.NewCredentials()},
		{name: "TLS without a client certificate", creds: clientTLS(t, ca.pem, "")},
		{name: "a client certificate of another CA", creds: clientTLS(t, ca.pem, rogueTLS)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := export(t, g.addr(0), tt.creds, sysAdminCheck("victim")); err == nil {
				t.Fatal("the gateway took the forged record")
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
	if err := export(t, g.addr(0), clientTLS(t, ca.pem, agentTLS), sysAdminCheck("web")); err != nil {
		t.Fatalf("the agents' certificate: %v\n%s", err, g.running[0].Output.String())
	}
	g.stop(0)

	profiles := mergedProfiles(t, g.files("profiles"))
	if p, ok := profiles["k8s shop/Deployment/victim/app"]; ok {
		t.Errorf("a profile of the forged workload: %+v", p)
	}
	if p, ok := profiles["k8s shop/Deployment/web/app"]; !ok || p.Checks != 1 {
		t.Errorf("profile of the agent's workload %+v, want one check (all: %v)", p, profiles)
	}
	received := checksByKey(t, g.files("checks")...)
	if n := received["k8s shop/Deployment/victim/app"]; n != 0 {
		t.Errorf("the gateway forwarded %d forged checks", n)
	}
	if _, err := os.Stat(g.replicaFile(0, 1, "profiles")); err != nil {
		t.Errorf("no profile records: %v", err)
	}
}
