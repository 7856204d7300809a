// Package distributions holds the shipped collector configurations. Its test
// loads each of them with the distribution's own factories, so a config that
// would not start fails here, fast, without building the binary.
package distributions

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/pprofextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/forwardconnector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/zpagesextension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/otelcol/otelcoltest"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"gopkg.in/yaml.v3"

	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector"
	"github.com/agentaudit/otelcol-agentaudit/exporter/siemexporter"
	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter"
	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentenrichprocessor"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor"
	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor"
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver"
)

// imports lists the Go packages of the factories below; the test checks it
// against builder-config.yaml so the two lists cannot drift apart.
var imports = []string{
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver",
	"go.opentelemetry.io/collector/receiver/otlpreceiver",
	"go.opentelemetry.io/collector/processor/batchprocessor",
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor",
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor",
	"github.com/agentaudit/otelcol-agentaudit/processor/agentenrichprocessor",
	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor",
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor",
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor",
	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter",
	"github.com/agentaudit/otelcol-agentaudit/exporter/siemexporter",
	"go.opentelemetry.io/collector/exporter/debugexporter",
	"go.opentelemetry.io/collector/exporter/otlpexporter",
	"go.opentelemetry.io/collector/exporter/otlphttpexporter",
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage",
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension",
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/pprofextension",
	"go.opentelemetry.io/collector/extension/zpagesextension",
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension",
	"go.opentelemetry.io/collector/connector/forwardconnector",
	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector",
	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension",
}

func factories(t *testing.T) otelcol.Factories {
	t.Helper()
	var f otelcol.Factories
	var err error
	f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		agentauditreceiver.NewFactory(), otlpreceiver.NewFactory())
	require.NoError(t, err)
	f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(), memorylimiterprocessor.NewFactory(), agentnormalizeprocessor.NewFactory(), agentenrichprocessor.NewFactory(), scrubprocessor.NewFactory(),
		chainprocessor.NewFactory(), signprocessor.NewFactory())
	require.NoError(t, err)
	f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		wormexporter.NewFactory(), siemexporter.NewFactory(), debugexporter.NewFactory(), otlpexporter.NewFactory(), otlphttpexporter.NewFactory())
	require.NoError(t, err)
	f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		filestorage.NewFactory(), healthcheckextension.NewFactory(), pprofextension.NewFactory(),
		zpagesextension.NewFactory(), bearertokenauthextension.NewFactory(), signerextension.NewFactory())
	require.NoError(t, err)
	f.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](forwardconnector.NewFactory(), genaiconnector.NewFactory())
	require.NoError(t, err)
	return f
}

// setShippedEnvironment sets what the shipped configs read their paths and
// peers from.
func setShippedEnvironment(t *testing.T) {
	t.Setenv("AGENTAUDIT_DATA_DIR", t.TempDir())
	t.Setenv("AGENTAUDIT_GATEWAY_ENDPOINT", "gateway.example:4317")
	t.Setenv("AGENTAUDIT_GATEWAY_TOKEN", "token")
	t.Setenv("AGENTAUDIT_S3_BUCKET", "audit-archive")
	t.Setenv("AGENTAUDIT_TLS_CERT", "/etc/otelcol-agentaudit/tls.crt")
	t.Setenv("AGENTAUDIT_TLS_KEY", "/etc/otelcol-agentaudit/tls.key")
}

func TestShippedConfigsLoadAndValidate(t *testing.T) {
	setShippedEnvironment(t)
	for _, name := range []string{"local", "agent", "gateway"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := otelcoltest.LoadConfigAndValidate(filepath.Join(name, "config.yaml"), factories(t))
			require.NoError(t, err)
			require.NotEmpty(t, cfg.Service.Pipelines)
		})
	}
}

// The host-side options are switched on from the environment: the TPM
// provider and RFC 3161 time stamps.
func TestAgentAndGatewayConfigsTakeTPMAndTimestampFromEnvironment(t *testing.T) {
	setShippedEnvironment(t)
	t.Setenv("AGENTAUDIT_SIGNER", "tpm")
	t.Setenv("AGENTAUDIT_TPM", "/dev/tpmrm1")
	t.Setenv("AGENTAUDIT_TSA_URL", "http://tsa.example/tsr")
	for _, name := range []string{"agent", "gateway"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := otelcoltest.LoadConfigAndValidate(filepath.Join(name, "config.yaml"), factories(t))
			require.NoError(t, err)
			signer := cfg.Extensions[component.MustNewID("signer")].(*signerextension.Config)
			require.Equal(t, signerextension.ProviderTPM, signer.Provider)
			require.Equal(t, "/dev/tpmrm1", signer.TPM.Path)
			sign := cfg.Processors[component.MustNewID("sign")].(*signprocessor.Config)
			require.True(t, sign.Timestamp.Enabled())
			require.Equal(t, "http://tsa.example/tsr", sign.Timestamp.Endpoint)
		})
	}
}

func TestBuilderConfigListsTheSameComponents(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "builder-config.yaml"))
	require.NoError(t, err)
	var manifest map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &manifest))
	var got []string
	for _, kind := range []string{"receivers", "processors", "exporters", "extensions", "connectors"} {
		list, _ := manifest[kind].([]any)
		for _, c := range list {
			m := c.(map[string]any)
			imp, _ := m["import"].(string)
			if imp == "" {
				gomod, _ := m["gomod"].(string)
				imp = gomod[:len(gomod)-len(" "+lastField(gomod))]
			}
			got = append(got, imp)
		}
	}
	want := append([]string(nil), imports...)
	sort.Strings(got)
	sort.Strings(want)
	require.Equal(t, want, got)
}

func lastField(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ' ' {
			return s[i+1:]
		}
	}
	return s
}

// The gateway archives to S3 with Object Lock, configured from the
// environment, with safe defaults for what is not set.
func TestGatewayArchivesToS3FromEnvironment(t *testing.T) {
	setShippedEnvironment(t)
	cfg, err := otelcoltest.LoadConfigAndValidate(filepath.Join("gateway", "config.yaml"), factories(t))
	require.NoError(t, err)
	worm := cfg.Exporters[component.MustNewID("worm")].(*wormexporter.Config)
	require.NotNil(t, worm.S3)
	require.Nil(t, worm.Local)
	require.Equal(t, "audit-archive", worm.S3.Bucket)
	require.Equal(t, "COMPLIANCE", worm.S3.ObjectLock.Mode)
	require.Equal(t, 61320*time.Hour, worm.S3.ObjectLock.Retention, "7 years unless told otherwise")
	require.False(t, worm.S3.PathStyle)
	require.True(t, worm.QueueConfig.HasValue(), "a persistent queue in front of S3")
	require.NotNil(t, worm.QueueConfig.Get().StorageID)

	t.Setenv("AGENTAUDIT_S3_ENDPOINT", "https://minio.internal:9000")
	t.Setenv("AGENTAUDIT_S3_PATH_STYLE", "true")
	t.Setenv("AGENTAUDIT_S3_RETENTION", "8760h")
	t.Setenv("AGENTAUDIT_S3_LOCK_MODE", "GOVERNANCE")
	cfg, err = otelcoltest.LoadConfigAndValidate(filepath.Join("gateway", "config.yaml"), factories(t))
	require.NoError(t, err)
	worm = cfg.Exporters[component.MustNewID("worm")].(*wormexporter.Config)
	require.Equal(t, "https://minio.internal:9000", worm.S3.Endpoint)
	require.True(t, worm.S3.PathStyle)
	require.Equal(t, 8760*time.Hour, worm.S3.ObjectLock.Retention)
	require.Equal(t, "GOVERNANCE", worm.S3.ObjectLock.Mode)

	t.Setenv("AGENTAUDIT_S3_BUCKET", "")
	_, err = otelcoltest.LoadConfigAndValidate(filepath.Join("gateway", "config.yaml"), factories(t))
	require.ErrorContains(t, err, "s3.bucket must be set")
}

// loadWithOverlays loads config files merged in order, as
// `otelcol-agentaudit --config a.yaml --config b.yaml` does, and validates
// the result.
func loadWithOverlays(t *testing.T, files ...string) (*otelcol.Config, error) {
	t.Helper()
	f := factories(t)
	nop, err := otelcoltest.NopFactories()
	require.NoError(t, err)
	f.Telemetry = nop.Telemetry
	provider, err := otelcol.NewConfigProvider(otelcol.ConfigProviderSettings{
		ResolverSettings: confmap.ResolverSettings{
			URIs:              files,
			ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
			DefaultScheme:     "env",
		},
	})
	require.NoError(t, err)
	cfg, err := provider.Get(context.Background(), f)
	if err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

// The gateway's SIEM copy: a CEF file by default, a SIEM with one of the
// overlays, always in its own pipeline fed by forward/siem.
func TestGatewaySIEMOverlays(t *testing.T) {
	setShippedEnvironment(t)
	siemPipeline := pipeline.NewIDWithName(pipeline.SignalLogs, "siem")
	auditPipeline := pipeline.NewIDWithName(pipeline.SignalLogs, "audit")

	cfg, err := loadWithOverlays(t, filepath.Join("gateway", "config.yaml"))
	require.NoError(t, err)
	require.Equal(t, []component.ID{component.MustNewIDWithName("siem", "file")}, cfg.Service.Pipelines[siemPipeline].Exporters)
	require.Contains(t, cfg.Service.Pipelines[auditPipeline].Exporters, component.MustNewIDWithName("forward", "siem"))
	file := cfg.Exporters[component.MustNewIDWithName("siem", "file")].(*siemexporter.Config)
	require.Equal(t, filepath.Join(os.Getenv("AGENTAUDIT_DATA_DIR"), "siem", "events.cef"), file.File.Path)

	t.Setenv("AGENTAUDIT_SYSLOG_ENDPOINT", "qradar.example:6514")
	t.Setenv("AGENTAUDIT_SYSLOG_FORMAT", "leef")
	t.Setenv("AGENTAUDIT_SYSLOG_CA_FILE", "/etc/ssl/qradar.pem")
	t.Setenv("AGENTAUDIT_ES_ENDPOINT", "https://es.example:9200")
	t.Setenv("AGENTAUDIT_ES_API_KEY", "key")
	t.Setenv("AGENTAUDIT_HEC_ENDPOINT", "https://splunk.example:8088")
	t.Setenv("AGENTAUDIT_HEC_TOKEN", "token")
	for overlay, name := range map[string]string{
		"siem-syslog.yaml": "syslog", "siem-elasticsearch.yaml": "elasticsearch", "siem-splunk.yaml": "splunk",
	} {
		t.Run(overlay, func(t *testing.T) {
			cfg, err := loadWithOverlays(t, filepath.Join("gateway", "config.yaml"), filepath.Join("gateway", overlay))
			require.NoError(t, err)
			id := component.MustNewIDWithName("siem", name)
			require.Equal(t, []component.ID{id}, cfg.Service.Pipelines[siemPipeline].Exporters, "the overlay replaces the file")
			require.Contains(t, cfg.Service.Pipelines[auditPipeline].Exporters, component.MustNewIDWithName("worm", ""))
			c := cfg.Exporters[id].(*siemexporter.Config)
			require.NoError(t, c.Validate())
		})
	}

	// A syslog overlay without its endpoint does not start.
	t.Setenv("AGENTAUDIT_SYSLOG_ENDPOINT", "")
	_, err = loadWithOverlays(t, filepath.Join("gateway", "config.yaml"), filepath.Join("gateway", "siem-syslog.yaml"))
	require.Error(t, err)
}

// Every collector writing to one archive needs an origin of its own: the
// agent and gateway configs take it from AGENTAUDIT_ORIGIN for the chain
// processor's log and the worm exporter's keys, and leave the default (the
// host name) without it.
func TestAgentAndGatewayOriginFromEnvironment(t *testing.T) {
	setShippedEnvironment(t)
	for _, name := range []string{"agent", "gateway"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := otelcoltest.LoadConfigAndValidate(filepath.Join(name, "config.yaml"), factories(t))
			require.NoError(t, err)
			require.Empty(t, cfg.Processors[component.MustNewID("chain")].(*chainprocessor.Config).Origin, "default: host name")
			t.Setenv("AGENTAUDIT_ORIGIN", "gateway-2")
			cfg, err = otelcoltest.LoadConfigAndValidate(filepath.Join(name, "config.yaml"), factories(t))
			require.NoError(t, err)
			require.Equal(t, "gateway-2", cfg.Processors[component.MustNewID("chain")].(*chainprocessor.Config).Origin)
			require.Equal(t, "gateway-2", cfg.Exporters[component.MustNewID("worm")].(*wormexporter.Config).Origin)
			t.Setenv("AGENTAUDIT_ORIGIN", "has space")
			_, err = otelcoltest.LoadConfigAndValidate(filepath.Join(name, "config.yaml"), factories(t))
			require.ErrorContains(t, err, "origin")
		})
	}
}
