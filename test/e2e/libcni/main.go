// Command petrel-libcni-driver drives a CNI network configuration list through the reference
// libcni library, the way container runtimes (containerd, CRI-O, podman) do. The e2e tests build
// it as a module (go.mod pins the CNI library) and run it inside a node network namespace.
//
// Usage: petrel-libcni-driver -conflist F -plugin-dir D -cache-dir D -netns P -id ID
//
//	[-ifname eth0] [-port-mappings JSON] add|check|del
//
// "add" prints the CNI result as JSON on stdout. Every failure exits non-zero with the error on
// stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
)

type portMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

func main() {
	conflist := flag.String("conflist", "", "path of the .conflist file")
	pluginDirs := flag.String("plugin-dir", "", "colon-separated directories holding plugin binaries")
	cacheDir := flag.String("cache-dir", "", "libcni result cache directory (never /var/lib/cni in tests)")
	netns := flag.String("netns", "", "path of the pod network namespace")
	containerID := flag.String("id", "", "container id")
	ifname := flag.String("ifname", "eth0", "interface name inside the pod")
	portMappings := flag.String("port-mappings", "", `JSON list, e.g. [{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]`)
	timeout := flag.Duration("timeout", 60*time.Second, "deadline for the whole operation")
	flag.Parse()

	if flag.NArg() != 1 {
		fail("exactly one command expected: add, check or del")
	}
	if *conflist == "" || *pluginDirs == "" || *cacheDir == "" || *netns == "" || *containerID == "" {
		fail("-conflist, -plugin-dir, -cache-dir, -netns and -id are required")
	}

	list, err := libcni.ConfListFromFile(*conflist)
	if err != nil {
		fail("load %s: %v", *conflist, err)
	}

	rt := &libcni.RuntimeConf{
		ContainerID: *containerID,
		NetNS:       *netns,
		IfName:      *ifname,
		CacheDir:    *cacheDir,
		// Kubernetes-style CNI_ARGS; IgnoreUnknown keeps plugins that do not know them happy.
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", "e2e"},
			{"K8S_POD_NAME", "pod-" + *containerID},
		},
		CapabilityArgs: map[string]interface{}{},
	}
	if *portMappings != "" {
		var pms []portMapping
		if err := json.Unmarshal([]byte(*portMappings), &pms); err != nil {
			fail("parse -port-mappings: %v", err)
		}
		// The same capability args go to ADD, CHECK and DEL: portmap only removes its rules on
		// DEL when it sees the mappings again.
		rt.CapabilityArgs["portMappings"] = pms
	}

	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(*pluginDirs, ":"), *cacheDir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	switch flag.Arg(0) {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail("ADD %s: %v", list.Name, err)
		}
		out, err := json.Marshal(result)
		if err != nil {
			fail("encode result: %v", err)
		}
		fmt.Println(string(out))
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail("CHECK %s: %v", list.Name, err)
		}
		fmt.Println("check ok")
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail("DEL %s: %v", list.Name, err)
		}
		fmt.Println("del ok")
	default:
		fail("unknown command %q (want add, check or del)", flag.Arg(0))
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "petrel-libcni-driver: "+format+"\n", args...)
	os.Exit(1)
}
