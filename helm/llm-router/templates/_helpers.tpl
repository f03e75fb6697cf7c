{{/*
Names, labels and shared pieces of the llm-router chart.
*/}}

{{- define "llm-router.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix: <release>-<chart>, or the release name when it already holds the chart name.
*/}}
{{- define "llm-router.fullname" -}}
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

{{/*
Name of one resource of a component: the full name shortened so that "-<suffix>" always fits in
63 characters, which keeps e.g. "decision" and "decision-headless" distinct under truncation.
Call with (dict "root" $ "suffix" "decision-headless").
*/}}
{{- define "llm-router.componentName" -}}
{{- $prefix := include "llm-router.fullname" .root | trunc (int (sub 62 (len .suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $prefix .suffix }}
{{- end }}

{{- define "llm-router.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (no chart or app version).
Call with (dict "root" $ "component" "gateway").
*/}}
{{- define "llm-router.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-router.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Every label of a resource. Call with (dict "root" $ "component" "gateway").
*/}}
{{- define "llm-router.labels" -}}
helm.sh/chart: {{ include "llm-router.chart" .root }}
{{ include "llm-router.selectorLabels" . }}
app.kubernetes.io/part-of: llm-router
{{- with .root.Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "llm-router.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llm-router.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "llm-router.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Headless Service names: what gRPC clients resolve with dns:/// and balance over. */}}
{{- define "llm-router.decisionHeadless" -}}
{{- include "llm-router.componentName" (dict "root" . "suffix" "decision-headless") }}
{{- end }}
{{- define "llm-router.inventoryHeadless" -}}
{{- include "llm-router.componentName" (dict "root" . "suffix" "inventory-headless") }}
{{- end }}

{{- define "llm-router.policyConfigMap" -}}
{{- default (include "llm-router.componentName" (dict "root" . "suffix" "policy")) .Values.decision.policy.existingConfigMap }}
{{- end }}
{{- define "llm-router.endpointsConfigMap" -}}
{{- default (include "llm-router.componentName" (dict "root" . "suffix" "endpoints")) .Values.inventory.endpoints.existingConfigMap }}
{{- end }}
{{- define "llm-router.secretName" -}}
{{- default (include "llm-router.componentName" (dict "root" . "suffix" "secrets")) .Values.secrets.existingSecret }}
{{- end }}
{{/* The Secret with inventory's write and reporter tokens (see tokens in values.yaml). */}}
{{- define "llm-router.tokensSecret" -}}
{{- default (include "llm-router.componentName" (dict "root" . "suffix" "tokens")) .Values.tokens.existingSecret }}
{{- end }}
{{/* "true" when the chart creates the Secret: create is on, no existingSecret, and content. */}}
{{- define "llm-router.createSecret" -}}
{{- if and .Values.secrets.create (not .Values.secrets.existingSecret) (or .Values.secrets.apiKeys .Values.secrets.upstreamCredentials) }}true{{- end }}
{{- end }}
{{/* "true" when the gateway mounts a Secret. */}}
{{- define "llm-router.hasSecret" -}}
{{- if or .Values.secrets.existingSecret (include "llm-router.createSecret" .) }}true{{- end }}
{{- end }}
{{/* "true" when the gateway authenticates callers with an API-key file. */}}
{{- define "llm-router.useApiKeys" -}}
{{- if and .Values.secrets.apiKeysKey (or .Values.secrets.existingSecret (and (include "llm-router.createSecret" .) .Values.secrets.apiKeys)) }}true{{- end }}
{{- end }}

{{/*
"true" when decision serves the route link and the gateways route over it: decision.routeLink is
on and the link is secured, by mutual TLS (the same certificate as gRPC) or by the NetworkPolicy
that lets only gateway pods reach its port. Otherwise every routing call goes over gRPC.
*/}}
{{- define "llm-router.routeLink" -}}
{{- if and .Values.decision.routeLink.enabled (or .Values.mtls.enabled .Values.networkPolicy.enabled) }}true{{- end }}
{{- end }}

{{/* mTLS: the Secret with tls.crt, tls.key and ca.crt. */}}
{{- define "llm-router.mtlsSecret" -}}
{{- if .Values.mtls.certManager.enabled }}
{{- include "llm-router.componentName" (dict "root" . "suffix" "mtls") }}
{{- else }}
{{- required "mtls.existingSecret (or mtls.certManager.enabled) is required when mtls.enabled" .Values.mtls.existingSecret }}
{{- end }}
{{- end }}

{{/* mTLS flags, volume mount and volume of a service container/pod. */}}
{{- define "llm-router.mtlsArgs" -}}
{{- if .Values.mtls.enabled }}
- --tls_cert_file=/etc/llm-router/tls/tls.crt
- --tls_key_file=/etc/llm-router/tls/tls.key
- --tls_ca_file=/etc/llm-router/tls/ca.crt
- --tls_refresh_interval_s={{ .Values.mtls.refreshIntervalSeconds }}
{{- end }}
{{- end }}
{{- define "llm-router.mtlsVolumeMount" -}}
{{- if .Values.mtls.enabled }}
- name: mtls
  mountPath: /etc/llm-router/tls
  readOnly: true
{{- end }}
{{- end }}
{{- define "llm-router.mtlsVolume" -}}
{{- if .Values.mtls.enabled }}
- name: mtls
  secret:
    secretName: {{ include "llm-router.mtlsSecret" . }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/*
Probe action of a gRPC service: native gRPC health, or TCP when mTLS is on (the kubelet's gRPC
probe cannot present a client certificate). Call with (dict "root" $ "port" 50051 "service" "").
*/}}
{{- define "llm-router.grpcProbe" -}}
{{- if .root.Values.mtls.enabled }}
tcpSocket:
  port: grpc
{{- else }}
grpc:
  port: {{ .port }}
  service: {{ .service | quote }}
{{- end }}
{{- end }}

{{/* Flags every service takes. Call with (dict "root" $ "component" .Values.decision). */}}
{{- define "llm-router.commonArgs" -}}
- --host=0.0.0.0
- --log_level={{ .root.Values.logging.level }}
- --log_format={{ .root.Values.logging.format }}
- --shutdown_grace_ms={{ .component.shutdownGraceMs }}
{{- include "llm-router.mtlsArgs" .root }}
{{- end }}

{{/*
Pod-level settings shared by the three Deployments.
Call with (dict "root" $ "component" .Values.gateway "name" "gateway").
*/}}
{{- define "llm-router.podSpecCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "llm-router.serviceAccountName" .root }}
automountServiceAccountToken: {{ .root.Values.serviceAccount.automountServiceAccountToken }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .component.terminationGracePeriodSeconds }}
{{- with .component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .component.topologySpreadConstraints }}
{{- $selector := include "llm-router.selectorLabels" (dict "root" .root "component" .name) | fromYaml }}
topologySpreadConstraints:
{{- range .component.topologySpreadConstraints }}
  - {{- toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" $selector))) | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Probe timings. Call with (dict "root" $ "kind" "liveness"). */}}
{{- define "llm-router.probeTimings" -}}
{{- $p := index .root.Values.probes .kind }}
periodSeconds: {{ $p.periodSeconds }}
failureThreshold: {{ $p.failureThreshold }}
{{- if hasKey $p "timeoutSeconds" }}
timeoutSeconds: {{ $p.timeoutSeconds }}
{{- end }}
{{- end }}

{{/* Pod annotations with the checksum of what a pod reads only at start. */}}
{{- define "llm-router.podAnnotations" -}}
{{- with .component.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The Secret holding Redis's password: the operator's, or the chart's. */}}
{{- define "llm-router.redisSecret" -}}
{{- if .Values.redis.enabled -}}
{{- default (include "llm-router.componentName" (dict "root" . "suffix" "redis")) .Values.redis.existingSecret }}
{{- else -}}
{{- .Values.redis.external.passwordSecret }}
{{- end }}
{{- end }}
{{/*
redis.external.url as the services' --redis takes it: redis://HOST:PORT[/DB] or HOST:PORT. The
services refuse rediss:// and a password in the URL at start; refusing them here instead keeps
an install from rolling out pods that crash-loop, and keeps a password out of every pod's argv
(ps, /proc/PID/cmdline) and the release's stored values.
*/}}
{{- define "llm-router.redisExternalUrl" -}}
{{- with .Values.redis.external.url }}
{{- /* First, and without the URL: the message must not print the password. */}}
{{- if contains "@" . }}
{{- fail "redis.external.url holds credentials (user:password@): put the password in a Secret named by redis.external.passwordSecret (key redis.external.passwordKey) instead, so that it stays out of the pods' command lines" }}
{{- end }}
{{- if hasPrefix "rediss://" (lower .) }}
{{- fail (printf "redis.external.url %q: rediss:// (TLS) is not supported, Debian 12's hiredis speaks no TLS. Give the redis:// URL of your Redis inside the cluster, or of a TLS sidecar or proxy (stunnel, spiped) that carries the link to it encrypted (docs/deployment.md, \"Scaling\")" .) }}
{{- end }}
{{- if not (regexMatch "^(redis://[^/:@\\s]+:[0-9]+(/[0-9]+)?|[^/:@\\s]+:[0-9]+)$" .) }}
{{- fail (printf "redis.external.url %q is not redis://HOST:PORT, redis://HOST:PORT/DB or HOST:PORT" .) }}
{{- end }}
{{- . }}
{{- end }}
{{- end }}
{{/* The Redis (--redis) that the replicas of each service share state through, or empty. */}}
{{- define "llm-router.redisAddress" -}}
{{- $external := include "llm-router.redisExternalUrl" . }}
{{- if .Values.redis.enabled -}}
{{ include "llm-router.componentName" (dict "root" . "suffix" "redis") }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:6379
{{- else -}}
{{ $external }}
{{- end }}
{{- end }}
{{/* Where the services read Redis's password: empty without a Redis or a password Secret. */}}
{{- define "llm-router.redisPasswordFile" -}}
{{- if and (include "llm-router.redisAddress" .) (include "llm-router.redisSecret" .) -}}
/etc/llm-router/redis/{{ ternary .Values.redis.passwordKey .Values.redis.external.passwordKey .Values.redis.enabled }}
{{- end }}
{{- end }}

{{/*
Redis flags, volume mount and volume of a service pod: the same for gateway, decision and
inventory (each shares its own state through it). Empty without a Redis.
*/}}
{{- define "llm-router.redisArgs" -}}
{{- with include "llm-router.redisAddress" . -}}
- --redis={{ . }}
{{- end }}
{{- with include "llm-router.redisPasswordFile" . }}
- --redis_password_file={{ . }}
{{- end }}
{{- end }}
{{- define "llm-router.redisVolumeMount" -}}
{{- if include "llm-router.redisPasswordFile" . -}}
- name: redis
  mountPath: /etc/llm-router/redis
  readOnly: true
{{- end }}
{{- end }}
{{- define "llm-router.redisVolume" -}}
{{- if include "llm-router.redisPasswordFile" . -}}
- name: redis
  secret:
    secretName: {{ include "llm-router.redisSecret" . }}
    defaultMode: 0440
{{- end }}
{{- end }}
