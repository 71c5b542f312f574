{{/*
Names, labels, the image, and the flag lists shared by the templates.
*/}}

{{/* The chart's name, at most 63 characters (a label value). */}}
{{- define "petrel.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object's name: the release name, with the chart name unless it has it. */}}
{{- define "petrel.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "petrel.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "petrel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "agent"). */}}
{{- define "petrel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "petrel.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "petrel.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Namespace of the operator's Lease. */}}
{{- define "petrel.leaseNamespace" -}}
{{- .Values.operator.leaseNamespace | default .Release.Namespace -}}
{{- end -}}

{{/*
One "--name=value" list item, or nothing when the value is empty ("" or null; false and 0 are
values). Call with (list "name" value).
*/}}
{{- define "petrel.flag" -}}
{{- $value := index . 1 -}}
{{- /* YAML numbers arrive as float64, printed 1.000003e+06 unless made integers again. */ -}}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) -}}
{{- $value = int64 $value -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- {{ printf "--%s=%v" (index . 0) $value | quote }}
{{- end -}}
{{- end -}}

{{/* The agent's arguments (the DaemonSet passes them; the agent-config ConfigMap records them). */}}
{{- define "petrel.agentArgs" -}}
- "--node-name=$(NODE_NAME)"
{{- $a := .Values.agent }}
{{- include "petrel.flag" (list "pod-cidr" $a.podCIDR) }}
{{- include "petrel.flag" (list "bpf-root" $a.bpfRoot) }}
{{- include "petrel.flag" (list "state-dir" $a.stateDir) }}
{{- include "petrel.flag" (list "socket" $a.socket) }}
{{- include "petrel.flag" (list "mtu" $a.mtu) }}
{{- include "petrel.flag" (list "routing-mode" $a.routingMode) }}
{{- include "petrel.flag" (list "vxlan-mode" $a.vxlanMode) }}
{{- include "petrel.flag" (list "tunnel-port" $a.tunnelPort) }}
{{- include "petrel.flag" (list "cgroup-root" $a.cgroupRoot) }}
{{- include "petrel.flag" (list "enable-masquerade" $a.enableMasquerade) }}
{{- include "petrel.flag" (list "masquerade-port-range" $a.masqueradePortRange) }}
{{- include "petrel.flag" (list "maglev-table-size" $a.maglevTableSize) }}
{{- include "petrel.flag" (list "lb-acceleration" $a.lbAcceleration) }}
{{- include "petrel.flag" (list "full-pass-interval" $a.fullPassInterval) }}
{{- include "petrel.flag" (list "log-level" $a.logLevel) }}
{{- include "petrel.flag" (list "cleanup-on-uninstall" $a.cleanupOnUninstall) }}
{{- include "petrel.flag" (list "cni-conf-dir" "/host/etc/cni/net.d") }}
{{- include "petrel.flag" (list "cni-bin-dir" "/host/opt/cni/bin") }}
{{- include "petrel.flag" (list "cni-conf-name" .Values.cni.confFileName) }}
{{- range $a.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The operator's arguments; its identity is the pod's name (POD_NAME). */}}
{{- define "petrel.operatorArgs" -}}
{{- $o := .Values.operator -}}
- {{ printf "--cluster-pool-cidr=%s" (required "operator.clusterPoolCIDR is required" $o.clusterPoolCIDR) | quote }}
{{- include "petrel.flag" (list "node-cidr-mask" $o.nodeCIDRMask) }}
{{- include "petrel.flag" (list "lease-name" $o.leaseName) }}
{{- include "petrel.flag" (list "lease-namespace" (include "petrel.leaseNamespace" .)) }}
- "--identity=$(POD_NAME)"
{{- include "petrel.flag" (list "lease-duration" $o.leaseDuration) }}
{{- include "petrel.flag" (list "renew-deadline" $o.renewDeadline) }}
{{- include "petrel.flag" (list "retry-period" $o.retryPeriod) }}
{{- include "petrel.flag" (list "resync" $o.resync) }}
{{- if $o.verbose }}
- "-v"
{{- end }}
{{- range $o.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* install-cni's arguments. */}}
{{- define "petrel.installCniArgs" -}}
- install
- "--bin-dir=/host/opt/cni/bin"
- "--conf-dir=/host/etc/cni/net.d"
{{- include "petrel.flag" (list "agent-socket" .Values.agent.socket) }}
{{- include "petrel.flag" (list "conf-name" .Values.cni.confFileName) }}
{{- include "petrel.flag" (list "log-file" .Values.cni.logFile) }}
{{- if .Values.cni.chainPortmap }}
- "--chain-portmap"
{{- end }}
{{- end -}}

{{/*
KUBERNETES_SERVICE_HOST/PORT (include only when k8sServiceHost is set): the agent replaces kube-proxy, so the
API's ClusterIP does not work before it runs (the operator must start before the agents too).
*/}}
{{- define "petrel.k8sServiceEnv" -}}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .Values.k8sServiceHost | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ required "k8sServicePort must be set with k8sServiceHost" .Values.k8sServicePort | quote }}
{{- end -}}
