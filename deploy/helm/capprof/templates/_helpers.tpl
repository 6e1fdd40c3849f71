{{/* The labels every object carries: Kustomize's part-of, and Helm's own. */}}
{{- define "capprof.labels" -}}
app.kubernetes.io/part-of: capprof
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "capprof.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
The agent's collector config: deploy/base/agent-config.yaml (files/ links
to it) with the chart's agent settings written over it, then agent.config
merged over the whole.
*/}}
{{- define "capprof.agentConfig" -}}
{{- $a := .Values.agent -}}
{{- $cfg := .Files.Get "files/agent-config.yaml" | fromYaml -}}
{{- $rcv := $cfg.receivers.capabilities -}}
{{- $_ := set $rcv "mode" $a.mode -}}
{{- $_ = set $rcv "audit" $a.audit -}}
{{- if $a.verdict }}{{ $_ = set $rcv "verdict" $a.verdict }}{{ end -}}
{{- $_ = set $rcv "include_host" $a.includeHost -}}
{{- $_ = set $rcv.kubernetes "labels" $a.labels -}}
{{- $service := $a.gatewayService | default (printf "capprof-gateway.%s" .Release.Namespace) -}}
{{- $lb := (index $cfg.exporters "load_balancing") -}}
{{- $_ = set $lb.resolver.k8s "service" (printf "${env:CAPPROF_GATEWAY_SERVICE:-%s}" $service) -}}
{{- $_ = set $lb.protocol.otlp.tls "server_name_override" (printf "${env:CAPPROF_GATEWAY_TLS_NAME:-%s.svc}" $service) -}}
{{- $pipeline := $cfg.service.pipelines.logs -}}
{{- range $name, $exporter := $a.exporters -}}
{{- $_ = set $cfg.exporters $name $exporter -}}
{{- $_ = set $pipeline "exporters" (append $pipeline.exporters $name) -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $cfg $a.config) -}}
{{- end -}}

{{/* The gateway's: deploy/base/gateway-config.yaml, gateway.config merged over it. */}}
{{- define "capprof.gatewayConfig" -}}
{{- $cfg := .Files.Get "files/gateway-config.yaml" | fromYaml -}}
{{- toYaml (mustMergeOverwrite $cfg .Values.gateway.config) -}}
{{- end -}}
