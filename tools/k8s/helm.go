package main

// The helm applet: the body of helm's cmd/helm/helm.go.

import (
	"errors"
	"log/slog"
	"os"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

func init() {
	applets["helm"] = func() int {
		// The field manager helm writes, whatever the binary is called.
		kube.ManagedFieldsManager = "helm"

		cmd, err := helmcmd.NewRootCmd(os.Stdout, os.Args[1:], helmcmd.SetupLogging)
		if err != nil {
			slog.Warn("command failed", slog.Any("error", err))
			return 1
		}
		if err := cmd.Execute(); err != nil {
			if cerr, ok := errors.AsType[helmcmd.CommandError](err); ok {
				return cerr.ExitCode
			}
			return 1
		}
		return 0
	}
}
