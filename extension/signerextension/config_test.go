package signerextension

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(id string) (*Config, error) {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	cfg, err := load("signer")
	require.NoError(t, err)
	assert.Equal(t, ProviderFile, cfg.Provider, "provider defaults to file")
	assert.Empty(t, cfg.KeyName, "key_name defaults to one derived from the host name at creation")
	assert.Equal(t, "/etc/otelcol-agentaudit/checkpoint.key", cfg.File.PrivateKey)

	cfg, err = load("signer/named")
	require.NoError(t, err)
	assert.Equal(t, ProviderFile, cfg.Provider)
	assert.Equal(t, "host1-audit", cfg.KeyName)
	assert.Equal(t, "./checkpoint.key", cfg.File.PrivateKey)

	cfg, err = load("signer/tpm")
	require.NoError(t, err)
	assert.Equal(t, ProviderTPM, cfg.Provider)
	assert.Equal(t, DefaultTPMPath, cfg.TPM.Path, "the kernel's resource manager by default")
	assert.Equal(t, 30*time.Second, cfg.TPM.RetryTimeout)

	cfg, err = load("signer/swtpm")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:2321", cfg.TPM.Endpoint)
	assert.Equal(t, 5*time.Second, cfg.TPM.RetryTimeout)

	for id, want := range map[string]string{
		"signer/tpmnopath": "tpm.path or tpm.endpoint must be set for provider tpm",
		"signer/unknown":   `unknown provider "vault" (known providers: file, tpm)`,
		"signer/nokey":     "file.private_key must be set for provider file",
		"signer/space":     `key_name "host 1" must be UTF-8 without spaces or '+'`,
		"signer/plus":      `key_name "host1+audit" must be UTF-8 without spaces or '+'`,
	} {
		_, err := load(id)
		assert.ErrorContains(t, err, want, id)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{name: "file", cfg: Config{Provider: "file", File: FileConfig{PrivateKey: "k.pem"}}},
		{name: "file with name", cfg: Config{Provider: "file", KeyName: "host1.example_audit-2", File: FileConfig{PrivateKey: "k.pem"}}},
		{name: "unicode name", cfg: Config{Provider: "file", KeyName: "hôte", File: FileConfig{PrivateKey: "k.pem"}}},
		{
			name: "no provider",
			cfg:  Config{File: FileConfig{PrivateKey: "k.pem"}},
			want: []string{"provider must be set (known providers: file, tpm)"},
		},
		{name: "tpm device", cfg: Config{Provider: "tpm", TPM: TPMConfig{Path: "/dev/tpmrm0", RetryTimeout: time.Second}}},
		{name: "tpm simulator", cfg: Config{Provider: "tpm", TPM: TPMConfig{Endpoint: "127.0.0.1:2321", RetryTimeout: time.Second}}},
		{
			name: "tpm without a TPM",
			cfg:  Config{Provider: "tpm"},
			want: []string{"tpm.path or tpm.endpoint must be set", "tpm.retry_timeout must be positive"},
		},
		{
			name: "unknown provider",
			cfg:  Config{Provider: "File", File: FileConfig{PrivateKey: "k.pem"}},
			want: []string{`unknown provider "File" (known providers: file, tpm)`},
		},
		{
			name: "no private key",
			cfg:  Config{Provider: "file"},
			want: []string{"file.private_key must be set for provider file"},
		},
		{
			name: "blank private key",
			cfg:  Config{Provider: "file", File: FileConfig{PrivateKey: "  "}},
			want: []string{"file.private_key must be set for provider file"},
		},
		{
			name: "key name with space",
			cfg:  Config{Provider: "file", KeyName: "a b", File: FileConfig{PrivateKey: "k.pem"}},
			want: []string{`key_name "a b"`},
		},
		{
			name: "key name with tab",
			cfg:  Config{Provider: "file", KeyName: "a\tb", File: FileConfig{PrivateKey: "k.pem"}},
			want: []string{"key_name"},
		},
		{
			name: "key name with plus",
			cfg:  Config{Provider: "file", KeyName: "a+b", File: FileConfig{PrivateKey: "k.pem"}},
			want: []string{`key_name "a+b"`},
		},
		{
			name: "key name not UTF-8",
			cfg:  Config{Provider: "file", KeyName: "a\xffb", File: FileConfig{PrivateKey: "k.pem"}},
			want: []string{"key_name"},
		},
		{
			name: "every error at once",
			cfg:  Config{Provider: "file", KeyName: "a+b"},
			want: []string{"file.private_key must be set", `key_name "a+b"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestSanitizeKeyName(t *testing.T) {
	for in, want := range map[string]string{
		"host1":                 "host1",
		"web-01.example.com":    "web-01.example.com",
		"my_host":               "my_host",
		"host name+x":           "host-name-x",
		"hôte":                  "h-te",
		"DESKTOP-ABC/1:2@3\t4 ": "DESKTOP-ABC-1-2-3-4-",
	} {
		assert.Equal(t, want, strings.TrimPrefix(integrity.KeyNameForHost(in), "agentaudit-"), in)
	}
}

func TestDefaultKeyName(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	want := integrity.KeyNameForHost(host)
	require.True(t, integrity.ValidKeyName(want), want)

	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.File.PrivateKey = writeKeyFile(t, genKey(t, "ed25519"), 0o600)
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	e := ext.(*Extension)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	assert.Equal(t, want, e.Signer().Name())
}
