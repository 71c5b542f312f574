package main

// The coredns applet: CoreDNS's own main (coremain.Run) with the plugins of the Corefile that
// kubeadm and the CoreDNS chart deploy as cluster DNS (kubernetes, forward, cache, ...), plus hosts,
// rewrite, template and log. Only the plugins imported here are linked; a Corefile that names
// another one is refused with "unknown directive".

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/template"
)

func init() {
	// coredns.go of CoreDNS
	applets["coredns"] = func() int {
		coremain.Run()
		return 0
	}
}
