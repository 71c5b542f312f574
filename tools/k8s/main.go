// Command petrel-k8s is the Kubernetes control plane of Petrel's sandbox in one binary: the real
// kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the official
// k8s.io/kubernetes module, the real etcd server from go.etcd.io/etcd/server/v3, CoreDNS
// (coredns.go) and helm (helm.go), linked once, all on the same k8s.io/* modules.
//
// It is a multi-call binary: it runs the applet named by the basename it was started as
// (a symlink called kube-apiserver, say), or the applet named by its first argument:
//
//	petrel-k8s kube-apiserver --etcd-servers=... --secure-port=...
//	petrel-k8s kubectl get ns
//
// Each applet sees os.Args exactly as its own binary would (os.Args[0] is the applet's name), so
// flags, help and kubectl's plugin lookup behave as upstream. Each applet's body is the upstream
// main of that command, unchanged.
//
// Petrel itself is C++; Go is used only for this test and sandbox substrate.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	_ "time/tzdata" // for timeZone support in CronJob, as kube-apiserver and kube-controller-manager do

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/component-base/version"

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's client auth plugins
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"

	etcdversion "go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/etcdmain"
)

// applets maps a command name to the upstream main of that command; each returns the exit code.
var applets = map[string]func() int{
	// cmd/kube-apiserver/apiserver.go
	"kube-apiserver": func() int { return cli.Run(apiserver.NewAPIServerCommand()) },
	// cmd/kube-controller-manager/controller-manager.go
	"kube-controller-manager": func() int { return cli.Run(controllermanager.NewControllerManagerCommand()) },
	// cmd/kube-scheduler/scheduler.go
	"kube-scheduler": func() int { return cli.Run(scheduler.NewSchedulerCommand()) },
	// cmd/kubectl/kubectl.go
	"kubectl": func() int {
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) // nolint:errcheck
		command := kubectl.NewDefaultKubectlCommand()
		if err := cli.RunNoErrOutput(command); err != nil {
			kubectlutil.CheckErr(err) // prints the error and exits non-zero
		}
		return 0
	},
	// etcd's own main (server/etcdmain), with all of etcd's flags.
	"etcd": func() int {
		etcdmain.Main(os.Args)
		return 0
	},
	"version": func() int {
		fmt.Printf("petrel-k8s: kubernetes %s, etcd %s, %s\n", version.Get().GitVersion, etcdversion.Version, goVersion())
		return 0
	},
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "go (unknown)"
}

func usage() {
	names := make([]string, 0, len(applets))
	for n := range applets {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: petrel-k8s APPLET [flags...]   (or run it through a symlink named after the applet)\napplets:\n")
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %s\n", n)
	}
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := applets[name]; !ok {
		if len(os.Args) < 2 {
			usage()
			os.Exit(2)
		}
		name = os.Args[1]
		if name == "-h" || name == "--help" || name == "help" {
			usage()
			os.Exit(0)
		}
		if _, ok := applets[name]; !ok {
			fmt.Fprintf(os.Stderr, "petrel-k8s: unknown applet %q\n", name)
			usage()
			os.Exit(2)
		}
		// The applet sees the command line its own binary would have seen.
		os.Args = append([]string{name}, os.Args[2:]...)
	}
	os.Exit(applets[name]())
}
