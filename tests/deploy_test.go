package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The deployment files of docs/deploy.md: the Helm values, the systemd unit
// and its environment file, and the document's own YAML. Each is checked
// the way it is used: the Helm values' config as the chart renders it, by
// the built binary's validate command; the unit by systemd-analyze.

// chartDefaultConfig is the collector config the upstream
// opentelemetry-collector chart puts in values.yaml (charts/
// opentelemetry-collector/values.yaml: receivers jaeger, otlp, prometheus
// and zipkin, the debug exporter, batch and memory_limiter, health_check,
// pipelines logs, metrics and traces). Helm merges the user's config over
// it; the values files must remove what this distribution does not build.
const chartDefaultConfig = `
exporters:
  debug: {}
extensions:
  health_check:
    endpoint: ${env:MY_POD_IP}:13133
processors:
  batch: {}
  memory_limiter:
    check_interval: 5s
    limit_percentage: 80
    spike_limit_percentage: 25
receivers:
  jaeger:
    protocols:
      grpc:
        endpoint: ${env:MY_POD_IP}:14250
      thrift_http:
        endpoint: ${env:MY_POD_IP}:14268
      thrift_compact:
        endpoint: ${env:MY_POD_IP}:6831
  otlp:
    protocols:
      grpc:
        endpoint: ${env:MY_POD_IP}:4317
      http:
        endpoint: ${env:MY_POD_IP}:4318
  prometheus:
    config:
      scrape_configs:
        - job_name: opentelemetry-collector
          scrape_interval: 10s
          static_configs:
            - targets:
                - ${env:MY_POD_IP}:8888
  zipkin:
    endpoint: ${env:MY_POD_IP}:9411
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: ${env:MY_POD_IP}
                port: 8888
  extensions:
    - health_check
  pipelines:
    logs:
      exporters: [debug]
      processors: [memory_limiter, batch]
      receivers: [otlp]
    metrics:
      exporters: [debug]
      processors: [memory_limiter, batch]
      receivers: [otlp, prometheus]
    traces:
      exporters: [debug]
      processors: [memory_limiter, batch]
      receivers: [otlp, jaeger, zipkin]
`

// helmMerge merges user values over defaults as Helm does: maps merge key
// by key, anything else is replaced, and a key the user sets to null is
// removed (whether or not the defaults have it).
func helmMerge(defaults, user map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		um, uok := v.(map[string]any)
		dm, dok := out[k].(map[string]any)
		switch {
		case uok && dok:
			out[k] = helmMerge(dm, um)
		case uok:
			out[k] = helmMerge(nil, um)
		default:
			out[k] = v
		}
	}
	return out
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &m), path)
	return m
}

// validate runs `otelcol-agentaudit validate` on the config files with env
// (and nothing else of the test's AGENTAUDIT_ environment) and returns its
// output and whether it succeeded.
func validate(t *testing.T, env []string, configs ...string) (string, bool) {
	t.Helper()
	args := []string{"validate"}
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTAUDIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// pipelines lists each pipeline's receivers, processors and exporters.
func pipelines(t *testing.T, cfg map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for name, p := range cfg["service"].(map[string]any)["pipelines"].(map[string]any) {
		out[name] = p.(map[string]any)
	}
	return out
}

// The config each Helm values file gives the chart, merged over the
// chart's defaults as Helm does, is valid for the built binary, and has the
// pipelines of the shipped config it is derived from. Without the nulls it
// would not be: the chart's jaeger, zipkin and prometheus receivers are not
// in this distribution.
func TestHelmValuesConfigValidates(t *testing.T) {
	var defaults map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(chartDefaultConfig), &defaults))
	env := []string{"MY_POD_IP=10.0.0.7", "AGENTAUDIT_ORIGIN=node-1", "AGENTAUDIT_SIGNING_KEY_NAME=agentaudit-k8s",
		"AGENTAUDIT_GATEWAY_TOKEN=token", "AGENTAUDIT_GATEWAY_ENDPOINT=audit-gateway.example.internal:4317",
		"AGENTAUDIT_S3_BUCKET=audit-archive", "AGENTAUDIT_S3_REGION=eu-central-1"}
	for _, tc := range []struct{ values, shipped, mode string }{
		{"values-gateway.yaml", "gateway", "statefulset"},
		{"values-agent.yaml", "agent", "daemonset"},
	} {
		t.Run(tc.values, func(t *testing.T) {
			values := readYAML(t, filepath.Join("..", "distributions", "helm", tc.values))
			assert.Equal(t, tc.mode, values["mode"])
			assert.Equal(t, "otelcol-agentaudit", values["command"].(map[string]any)["name"])
			// Keys the chart's values.yaml defines (its schema refuses others).
			for _, key := range []string{"image", "command", "config", "extraEnvs", "extraVolumes", "extraVolumeMounts", "ports", "initContainers"} {
				assert.Contains(t, values, key)
			}
			user := values["config"].(map[string]any)
			// validate opens the scrub key (mounted from a Secret in the
			// pod): a temporary one stands in for it.
			key := scrubKeyFile(t)
			render := func(user map[string]any) map[string]any {
				cfg := helmMerge(defaults, user)
				cfg["processors"].(map[string]any)["scrub"].(map[string]any)["hmac"].(map[string]any)["key_file"] = key
				return cfg
			}
			rendered := render(user)
			dir := t.TempDir()
			write := func(name string, cfg map[string]any) string {
				b, err := yaml.Marshal(cfg)
				require.NoError(t, err)
				p := filepath.Join(dir, name)
				require.NoError(t, os.WriteFile(p, b, 0o644))
				return p
			}
			out, ok := validate(t, env, write("relay.yaml", rendered))
			require.True(t, ok, "the rendered config does not validate:\n%s", out)

			// The same user config without its nulls (the chart's defaults
			// left in) is refused: the nulls are what makes it work.
			out, ok = validate(t, env, write("with-defaults.yaml", render(dropNulls(user))))
			assert.False(t, ok, "the chart's own receivers must be removed")
			assert.Regexp(t, `unknown type: "(jaeger|zipkin|prometheus)"`, out)

			// Derived from the shipped config: the same pipelines, in order.
			shipped := readYAML(t, shippedConfig(tc.shipped))
			assert.Equal(t, pipelines(t, shipped), pipelines(t, rendered))
			for _, kind := range []string{"receivers", "processors", "exporters", "connectors", "extensions"} {
				want, _ := shipped[kind].(map[string]any)
				got, _ := rendered[kind].(map[string]any)
				for name := range want {
					assert.Contains(t, got, name, "%s: %s of the shipped config", kind, name)
				}
			}
		})
	}
}

// scrubKeyFile writes an HMAC key as operators make one
// (head -c 32 /dev/urandom | base64) and returns its path.
func scrubKeyFile(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "scrub-hmac.key")
	require.NoError(t, os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	return p
}

// dropNulls is m without its null values, at every level.
func dropNulls(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			out[k] = dropNulls(v)
		default:
			out[k] = v
		}
	}
	return out
}

// The systemd unit loads without a warning, and its hardening keeps
// systemd's exposure score at 2.0 or below. systemd-analyze verify needs
// ExecStart's binary to exist, so a copy with the built binary's path is
// verified; otherwise the unit is checked as shipped.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	require.NoError(t, err, "systemd-analyze is needed to check the unit")
	raw, err := os.ReadFile(filepath.Join("..", "distributions", "systemd", "otelcol-agentaudit.service"))
	require.NoError(t, err)
	const installed = "ExecStart=/usr/bin/otelcol-agentaudit $OTELCOL_OPTIONS\n"
	require.Contains(t, string(raw), installed)
	unit := filepath.Join(t.TempDir(), "otelcol-agentaudit.service")
	require.NoError(t, os.WriteFile(unit, bytes.Replace(raw, []byte(installed), []byte("ExecStart="+binary+" $OTELCOL_OPTIONS\n"), 1), 0o644))

	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns")

	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", unit).CombinedOutput()
	require.NoError(t, err, "exposure above 2.0:\n%s", out)
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	t.Logf("e2e: systemd unit: exposure %s (systemd-analyze security --offline)", m[1])

	// The checker catches a broken unit: an unknown key is a warning.
	bad := filepath.Join(t.TempDir(), "otelcol-agentaudit.service")
	require.NoError(t, os.WriteFile(bad, bytes.Replace(raw, []byte("NoNewPrivileges=yes"), []byte("NoNewPrivilege=yes"), 1), 0o644))
	out, _ = exec.Command(analyze, "verify", bad).CombinedOutput()
	assert.Contains(t, string(out), "Unknown key")
}

// The example environment file sets everything the shipped configs need:
// each of its two blocks (the gateway block uncommented) makes the config of
// its role validate with the built binary.
func TestSystemdEnvironmentFileCoversTheShippedConfigs(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "distributions", "systemd", "otelcol-agentaudit.env"))
	require.NoError(t, err)
	defer f.Close()
	blocks := map[string][]string{}
	block := ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case strings.HasPrefix(line, "# --- Agent"):
			block = "agent"
		case strings.HasPrefix(line, "# --- Gateway"):
			block = "gateway"
		case block == "agent" && regexp.MustCompile(`^[A-Z][A-Z0-9_]*=`).MatchString(line):
			blocks[block] = append(blocks[block], line)
		case block == "gateway" && regexp.MustCompile(`^# (AGENTAUDIT|AWS)_[A-Z0-9_]+=`).MatchString(line):
			blocks[block] = append(blocks[block], strings.TrimPrefix(line, "# "))
		}
	}
	require.NoError(t, s.Err())
	for _, role := range []string{"agent", "gateway"} {
		t.Run(role, func(t *testing.T) {
			require.NotEmpty(t, blocks[role])
			env := append([]string{"AGENTAUDIT_DATA_DIR=" + t.TempDir()}, blocks[role]...)
			// validate opens the scrub key, which the gateway does not make:
			// the file the block names stands in a temporary directory.
			env = append(env, "AGENTAUDIT_SCRUB_KEY="+scrubKeyFile(t))
			out, ok := validate(t, env, shippedConfig(role))
			assert.True(t, ok, "%v:\n%s", blocks[role], out)
			// And the check can fail: without the block (the data
			// directory and the scrub key still given, so that the block
			// is what is missing) the config is invalid.
			out, ok = validate(t, []string{env[0], env[len(env)-1]}, shippedConfig(role))
			assert.False(t, ok, "valid without the block: %s", out)
		})
	}
}

// Every YAML block of docs/deploy.md parses.
func TestDeployDocYAMLParses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "deploy.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(raw, -1)
	require.NotEmpty(t, blocks)
	for i, b := range blocks {
		var v any
		assert.NoError(t, yaml.Unmarshal(b[1], &v), "block %d:\n%s", i+1, b[1])
		assert.NotNil(t, v, "block %d is empty", i+1)
	}
	t.Logf("e2e: docs/deploy.md: %d YAML blocks parse", len(blocks))
}
