package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/profileobject"
)

// workloadResources are the resources capprof apply patches, by kind: the
// kinds whose pod template the patch format can change.
var workloadResources = map[string]schema.GroupVersionResource{
	profile.KindDeployment:  {Group: "apps", Version: "v1", Resource: "deployments"},
	profile.KindStatefulSet: {Group: "apps", Version: "v1", Resource: "statefulsets"},
	profile.KindDaemonSet:   {Group: "apps", Version: "v1", Resource: "daemonsets"},
	profile.KindReplicaSet:  {Group: "apps", Version: "v1", Resource: "replicasets"},
	profile.KindCronJob:     {Group: "batch", Version: "v1", Resource: "cronjobs"},
}

func runApply(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig `FILE` (default: $KUBECONFIG, else ~/.kube/config)")
	namespace := fs.String("namespace", "", "the profiles' `NAMESPACE` (default: the kubeconfig context's)")
	yes := fs.Bool("yes", false, "patch the workloads; without it only the patches are printed (a dry run)")
	format := fs.String("format", string(profile.FormatPatch), "what a dry run prints: any format of capprof profile, e.g. vap or kyverno for admission policies")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof apply [flags] [PROFILE...]\n\n"+
			"Reads CapabilityProfile objects (all of the namespace when none is named) and prints, for each,\n"+
			"the strategic-merge patch that gives its workload's container the advised securityContext\n"+
			"(or, with --format, any format of capprof profile: vap and kyverno give admission policies).\n"+
			"With --yes it applies the patches to the Deployments, StatefulSets, DaemonSets, ReplicaSets\n"+
			"and CronJobs, with the kubeconfig's credentials.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	f, err := profile.ParseFormat(*format)
	if err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if *yes && f != profile.FormatPatch {
		return usageError{errors.New("--yes applies patches: --format must be patch")}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	ns := *namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return fmt.Errorf("kubeconfig namespace: %w", err)
		}
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ctx := context.Background()
	profiles, err := readProfileObjects(ctx, client, ns, fs.Args())
	if err != nil {
		return err
	}
	if !*yes {
		return profile.Write(stdout, f, profiles)
	}
	var errs []error
	for i := range profiles {
		if err := applyPatch(ctx, client, &profiles[i], stdout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readProfileObjects reads the named CapabilityProfiles of a namespace, or
// all of them, as profiles.
func readProfileObjects(ctx context.Context, client dynamic.Interface, ns string, names []string) ([]profile.Profile, error) {
	res := client.Resource(v1alpha1.SchemeGroupVersion.WithResource(v1alpha1.ResourceCapabilityProfiles)).Namespace(ns)
	var objs []map[string]any
	if len(names) == 0 {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list CapabilityProfiles in %s: %w", ns, err)
		}
		for _, u := range list.Items {
			objs = append(objs, u.Object)
		}
	}
	for _, name := range names {
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read CapabilityProfile %s/%s: %w", ns, name, err)
		}
		objs = append(objs, u.Object)
	}
	profiles := make([]profile.Profile, 0, len(objs))
	for _, o := range objs {
		var obj v1alpha1.CapabilityProfile
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o, &obj); err != nil {
			return nil, fmt.Errorf("decode CapabilityProfile: %w", err)
		}
		profiles = append(profiles, profileobject.Of(&obj))
	}
	return profiles, nil
}

// applyPatch patches a profile's workload with its patch format; a profile
// without a patch (a bare Pod, a Job) is reported and skipped.
func applyPatch(ctx context.Context, client dynamic.Interface, p *profile.Profile, stdout io.Writer) error {
	var doc bytes.Buffer
	if err := profile.Write(&doc, profile.FormatPatch, []profile.Profile{*p}); err != nil {
		return err
	}
	patch, err := yaml.YAMLToJSON(doc.Bytes())
	if err != nil {
		return fmt.Errorf("patch of %s: %w", p.ID, err)
	}
	gvr, ok := workloadResources[p.Key.WorkloadKind]
	if string(patch) == "null" || !ok {
		fmt.Fprintf(stdout, "%s: skipped: %s\n", p.ID, strings.TrimPrefix(strings.TrimSpace(doc.String()), "# "+p.ID+": "))
		return nil
	}
	k := &p.Key
	if _, err := client.Resource(gvr).Namespace(k.Namespace).Patch(ctx, k.Workload, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "capprof"}); err != nil {
		return fmt.Errorf("patch %s %s/%s: %w", strings.ToLower(k.WorkloadKind), k.Namespace, k.Workload, err)
	}
	fmt.Fprintf(stdout, "%s %s/%s patched: container %s has the advised securityContext\n",
		strings.ToLower(k.WorkloadKind), k.Namespace, k.Workload, k.Container)
	return nil
}
