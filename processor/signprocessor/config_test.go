package signprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	// load returns the unmarshal error, or else the validation error.
	load := func(t *testing.T, id string) (*Config, error) {
		t.Helper()
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		if err := sub.Unmarshal(cfg); err != nil {
			return cfg, err
		}
		return cfg, confmap.Validate(cfg)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg, err := load(t, "sign")
		require.NoError(t, err)
		assert.Equal(t, component.MustNewID("signer"), cfg.Signer)
		assert.Equal(t, 10*time.Second, cfg.Interval)
		assert.Equal(t, uint64(10000), cfg.MaxRecords)
	})

	t.Run("custom", func(t *testing.T) {
		cfg, err := load(t, "sign/custom")
		require.NoError(t, err)
		assert.Equal(t, component.MustNewIDWithName("signer", "tpm"), cfg.Signer)
		assert.Equal(t, time.Minute, cfg.Interval)
		assert.Equal(t, uint64(5000), cfg.MaxRecords)
	})

	t.Run("no signer", func(t *testing.T) {
		_, err := load(t, "sign/no_signer")
		require.Error(t, err, "an empty signer id is refused, at unmarshal or by Validate")
		assert.ErrorContains(t, err, "signer")
	})

	t.Run("interval too small", func(t *testing.T) {
		cfg, err := load(t, "sign/fast")
		require.Error(t, err)
		assert.Equal(t, time.Millisecond, cfg.Interval)
		assert.ErrorContains(t, err, "interval: must be at least 100ms")
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func() *Config
		wantErr []string
	}{
		{name: "default", cfg: func() *Config { return createDefaultConfig().(*Config) }},
		{name: "smallest interval", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Interval = 100 * time.Millisecond
			return c
		}},
		{name: "interval by records only", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.MaxRecords = 0
			return c
		}},
		{name: "interval just below", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Interval = 99 * time.Millisecond
			return c
		}, wantErr: []string{"interval"}},
		{name: "zero interval", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Interval = 0
			return c
		}, wantErr: []string{"interval"}},
		{name: "zero signer id", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Signer = component.ID{}
			return c
		}, wantErr: []string{"signer: name the signer extension"}},
		{name: "both", cfg: func() *Config {
			return &Config{}
		}, wantErr: []string{"signer:", "interval:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg().Validate()
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.wantErr {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}
