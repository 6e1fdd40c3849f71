package kube

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capprof/capprof/internal/config"
)

// Auth says how the watcher authenticates to the API server.
type Auth string

const (
	// AuthServiceAccount uses the pod's ServiceAccount (in-cluster config).
	AuthServiceAccount Auth = "serviceAccount"
	// AuthKubeconfig reads a kubeconfig file (Config.Kubeconfig, else
	// $KUBECONFIG or ~/.kube/config): for running outside the cluster.
	AuthKubeconfig Auth = "kubeConfig"
)

var auths = config.Names[Auth]{
	{Value: AuthServiceAccount, Name: "serviceAccount"},
	{Value: AuthKubeconfig, Name: "kubeConfig"},
}

func (a Auth) MarshalText() ([]byte, error) { return auths.Text(a) }

func (a *Auth) UnmarshalText(text []byte) (err error) {
	*a, err = auths.Parse(text)
	return err
}

// Config configures a Watcher.
type Config struct {
	Auth Auth
	// Kubeconfig is the kubeconfig file for AuthKubeconfig ("" for the
	// default loading rules).
	Kubeconfig string
	// NodeName is the node whose pods are watched (spec.nodeName).
	NodeName string
	// Labels selects the pod labels exported.
	Labels Labels
	// Resync is how often every pod is processed again, which retries
	// owner lookups that failed.
	Resync time.Duration
	// Retain is how long a deleted pod stays known, for its containers'
	// checks still on their way.
	Retain time.Duration
	// RequestTimeout bounds each owner lookup.
	RequestTimeout time.Duration
	// OnState, when set, is called on every change of State, from the
	// watcher's goroutines; err says why the API server is unreachable.
	OnState func(s State, err error)
	// OnPod, when set, is called with each pod of the node added or
	// changed, and with nil when the pod of that namespace/name key is
	// deleted, from the watcher's goroutine: the live selection follows
	// pods through it.
	OnPod  func(key string, pod *corev1.Pod)
	Logger *slog.Logger
}

// DefaultConfig is the in-cluster configuration for node; labels none.
func DefaultConfig(node string) Config {
	return Config{
		Auth:           AuthServiceAccount,
		NodeName:       node,
		Resync:         5 * time.Minute,
		Retain:         2 * time.Minute,
		RequestTimeout: 10 * time.Second,
	}
}

// Validate reports the first invalid field, as a *config.FieldError when
// a shell can set it.
func (c *Config) Validate() error {
	if err := auths.Check(c.Auth); err != nil {
		return &config.FieldError{Field: "Auth", Err: err}
	}
	if c.Kubeconfig != "" && c.Auth != AuthKubeconfig {
		return &config.FieldError{Field: "Kubeconfig", Err: fmt.Errorf("only with auth %s", AuthKubeconfig)}
	}
	if c.NodeName == "" {
		return &config.FieldError{Field: "NodeName", Err: errors.New("required (the pods of which node to watch; NODE_NAME from the downward API in a DaemonSet)")}
	}
	if c.Resync <= 0 || c.Retain <= 0 || c.RequestTimeout <= 0 {
		return fmt.Errorf("resync, retain and request timeout: must be positive, got %s, %s, %s", c.Resync, c.Retain, c.RequestTimeout)
	}
	return nil
}

// RESTConfig loads the client configuration Auth names.
func (c *Config) RESTConfig() (*rest.Config, error) {
	if c.Auth == AuthServiceAccount {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
		return rc, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.Kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return rc, nil
}
