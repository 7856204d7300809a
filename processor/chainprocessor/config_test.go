package chainprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(t *testing.T, id string) (*Config, error) {
		t.Helper()
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg, err := load(t, "chain")
		require.NoError(t, err)
		assert.Empty(t, cfg.Origin, "the origin defaults to the host name at creation, not in the config")
		assert.Equal(t, []string{"session.id", "host.id"}, cfg.StreamAttributes)
		assert.Nil(t, cfg.Storage)
	})

	t.Run("custom", func(t *testing.T) {
		cfg, err := load(t, "chain/custom")
		require.NoError(t, err)
		assert.Equal(t, "gw1.example.com", cfg.Origin)
		assert.Equal(t, []string{"tenant.id", "session.id"}, cfg.StreamAttributes)
		require.NotNil(t, cfg.Storage)
		assert.Equal(t, component.MustNewIDWithName("file_storage", "chain"), *cfg.Storage)
	})

	t.Run("bad origin", func(t *testing.T) {
		cfg, err := load(t, "chain/bad_origin")
		require.Error(t, err)
		assert.Equal(t, "has space", cfg.Origin)
		assert.ErrorContains(t, err, "origin")
		assert.ErrorContains(t, err, "spaces")
	})

	t.Run("no streams", func(t *testing.T) {
		cfg, err := load(t, "chain/no_streams")
		require.Error(t, err)
		assert.Empty(t, cfg.StreamAttributes, "an explicit empty list replaces the default")
		assert.ErrorContains(t, err, "stream_attributes: list at least one attribute")
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string
	}{
		{name: "default", mutate: func(*Config) {}},
		{name: "origin with path", mutate: func(c *Config) { c.Origin = "example.com/gw1" }},
		{name: "origin with plus", mutate: func(c *Config) { c.Origin = "gw+1" }, wantErr: []string{"origin"}},
		{name: "origin with newline", mutate: func(c *Config) { c.Origin = "gw\n1" }, wantErr: []string{"origin"}},
		{name: "origin with tab", mutate: func(c *Config) { c.Origin = "gw\t1" }, wantErr: []string{"origin"}},
		{name: "nil stream list", mutate: func(c *Config) { c.StreamAttributes = nil }, wantErr: []string{"list at least one attribute"}},
		{name: "empty attribute name", mutate: func(c *Config) { c.StreamAttributes = []string{"session.id", ""} }, wantErr: []string{"empty attribute name"}},
		{
			name: "all errors reported together",
			mutate: func(c *Config) {
				c.Origin = "a b"
				c.StreamAttributes = []string{""}
			},
			wantErr: []string{"origin", "empty attribute name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
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

func TestUnmarshalStorage(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"origin":  "o",
		"storage": "file_storage",
	}).Unmarshal(cfg))
	require.NotNil(t, cfg.Storage)
	assert.Equal(t, component.MustNewID("file_storage"), *cfg.Storage)
	assert.Equal(t, []string{"session.id", "host.id"}, cfg.StreamAttributes, "unset keys keep their defaults")
}
