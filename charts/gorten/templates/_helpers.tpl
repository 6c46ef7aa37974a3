{{/* Chart name, overridable. */}}
{{- define "gorten.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "gorten.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels the Deployment selects its pods by; never change them (selectors are immutable). */}}
{{- define "gorten.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gorten.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The recommended app.kubernetes.io labels, on every object. */}}
{{- define "gorten.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gorten.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gorten
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gorten.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gorten.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ClusterRole the operator binds to itself in each tenant namespace. */}}
{{- define "gorten.tenantRole" -}}
{{- printf "%s-tenant" (include "gorten.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gorten.leaseName" -}}
{{- default (include "gorten.fullname" .) .Values.operator.leaderElection.leaseName }}
{{- end }}

{{- define "gorten.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
A CRD from files/crds (a link to the repository's crds/, the one source of truth), with
the chart's labels and helm.sh/resource-policy: keep added: `helm uninstall` must never
delete a CRD, since that deletes every Marketplace and Company with it.
*/}}
{{- define "gorten.crd" -}}
{{- $file := .file }}
{{- $root := .root }}
{{- $crd := $root.Files.Get $file | fromYaml }}
{{- if not $crd.metadata }}
{{- fail (printf "%s is missing or not a CRD (files/crds must link to the repository's crds/)" $file) }}
{{- end }}
{{- $labels := merge (dict) (include "gorten.labels" $root | fromYaml) ($crd.metadata.labels | default dict) }}
{{- $annotations := merge (dict "helm.sh/resource-policy" "keep") ($crd.metadata.annotations | default dict) }}
{{- $_ := set $crd.metadata "labels" $labels }}
{{- $_ := set $crd.metadata "annotations" $annotations }}
{{- toYaml $crd }}
{{- end }}

{{/*
Label matchers of the operator's metrics, for the alerting rules: prometheusRule.operatorSelector,
or the job and namespace the chart's ServiceMonitor gives them (a ServiceMonitor's job label is
the Service's name).
*/}}
{{- define "gorten.operatorSelector" -}}
{{- if .Values.prometheusRule.operatorSelector }}
{{- .Values.prometheusRule.operatorSelector }}
{{- else if .Values.serviceMonitor.enabled }}
{{- printf "job=%q,namespace=%q" (printf "%s-metrics" (include "gorten.fullname" .)) .Release.Namespace }}
{{- else }}
{{- fail "prometheusRule.enabled needs serviceMonitor.enabled, or prometheusRule.operatorSelector set to the label matchers your Prometheus gives the operator's metrics (e.g. job=\"gorten-operator\"): without either, GortenOperatorDown would fire for an operator nothing scrapes" }}
{{- end }}
{{- end }}

{{/* An alert's labels: its severity and prometheusRule.alertLabels. */}}
{{- define "gorten.alertLabels" -}}
severity: {{ .severity }}
{{- with .common }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
A label map as key=value pairs joined by commas, the form GORTEN_TENANT_MONITOR_LABELS
takes (keys in order, as range gives them).
*/}}
{{- define "gorten.labelPairs" -}}
{{- $pairs := list }}
{{- range $key, $value := . }}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
