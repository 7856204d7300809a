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

	t.Run("defaults have no rotation and no time stamps", func(t *testing.T) {
		cfg, err := load(t, "sign")
		require.NoError(t, err)
		assert.Nil(t, cfg.PreviousSigner)
		assert.False(t, cfg.Timestamp.Enabled())
		assert.Equal(t, 10*time.Second, cfg.Timestamp.Timeout)
		assert.Equal(t, time.Minute, cfg.Timestamp.MaxBackoff)
	})

	t.Run("rotation", func(t *testing.T) {
		cfg, err := load(t, "sign/rotation")
		require.NoError(t, err)
		assert.Equal(t, component.MustNewIDWithName("signer", "tpm"), cfg.Signer)
		require.NotNil(t, cfg.PreviousSigner)
		assert.Equal(t, component.MustNewIDWithName("signer", "file"), *cfg.PreviousSigner)
	})

	t.Run("rotation to the same signer", func(t *testing.T) {
		_, err := load(t, "sign/rotation_same")
		require.Error(t, err)
		assert.ErrorContains(t, err, `previous_signer: "signer/tpm" is the signer itself`)
	})

	t.Run("timestamp", func(t *testing.T) {
		cfg, err := load(t, "sign/timestamp")
		require.NoError(t, err)
		assert.True(t, cfg.Timestamp.Enabled())
		assert.Equal(t, "https://tsa.example.com/tsr", cfg.Timestamp.Endpoint)
		assert.Equal(t, 5*time.Second, cfg.Timestamp.Timeout)
		assert.Equal(t, 30*time.Second, cfg.Timestamp.MaxBackoff)
	})

	t.Run("timestamp with HTTP client settings", func(t *testing.T) {
		// The HTTP client's own settings and max_backoff side by side.
		cfg, err := load(t, "sign/timestamp_http")
		require.NoError(t, err)
		assert.Equal(t, "https://tsa.example.com/tsr", cfg.Timestamp.Endpoint)
		assert.Equal(t, 3*time.Second, cfg.Timestamp.Timeout)
		assert.Equal(t, 2*time.Minute, cfg.Timestamp.MaxBackoff)
		assert.Equal(t, "/etc/agentaudit/tsa-ca.pem", cfg.Timestamp.TLS.CAFile)
		auth, ok := cfg.Timestamp.Headers.Get("Authorization")
		require.True(t, ok)
		assert.Equal(t, "Bearer token", string(auth))
	})

	t.Run("timestamp section alone", func(t *testing.T) {
		// TimestampConfig.Unmarshal called directly, not through Config.
		sub, err := cm.Sub("sign/timestamp_http")
		require.NoError(t, err)
		ts, err := sub.Sub("timestamp")
		require.NoError(t, err)
		cfg := createDefaultConfig().(*Config).Timestamp
		require.NoError(t, cfg.Unmarshal(ts))
		assert.Equal(t, 2*time.Minute, cfg.MaxBackoff)
		assert.Equal(t, 3*time.Second, cfg.Timeout)
	})

	t.Run("timestamp defaults", func(t *testing.T) {
		cfg, err := load(t, "sign/timestamp_defaults")
		require.NoError(t, err)
		assert.True(t, cfg.Timestamp.Enabled())
		assert.Equal(t, 10*time.Second, cfg.Timestamp.Timeout)
		assert.Equal(t, time.Minute, cfg.Timestamp.MaxBackoff)
	})

	for _, tc := range []struct{ id, want string }{
		{"sign/timestamp_no_timeout", "timestamp.timeout: must be positive"},
		{"sign/timestamp_negative_timeout", "timestamp.timeout: must be positive"},
		{"sign/timestamp_short_backoff", "timestamp.max_backoff: must be at least 1s"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			_, err := load(t, tc.id)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
		})
	}

	t.Run("timestamp settings without an endpoint are not checked", func(t *testing.T) {
		cfg, err := load(t, "sign/timestamp_off")
		require.NoError(t, err)
		assert.False(t, cfg.Timestamp.Enabled())
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
		{name: "rotation", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			prev := component.MustNewIDWithName("signer", "old")
			c.PreviousSigner = &prev
			return c
		}},
		{name: "previous signer is the signer", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			prev := c.Signer
			c.PreviousSigner = &prev
			return c
		}, wantErr: []string{`previous_signer: "signer" is the signer itself`}},
		{name: "timestamp", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Timestamp.Endpoint = "http://127.0.0.1:3180"
			return c
		}},
		{name: "timestamp smallest backoff", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Timestamp.Endpoint = "http://127.0.0.1:3180"
			c.Timestamp.MaxBackoff = time.Second
			return c
		}},
		{name: "timestamp zero timeout and short backoff", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Timestamp.Endpoint = "http://127.0.0.1:3180"
			c.Timestamp.Timeout = 0
			c.Timestamp.MaxBackoff = 500 * time.Millisecond
			return c
		}, wantErr: []string{"timestamp.timeout: must be positive", "timestamp.max_backoff: must be at least 1s"}},
		{name: "timestamp disabled", cfg: func() *Config {
			c := createDefaultConfig().(*Config)
			c.Timestamp.Timeout = 0
			c.Timestamp.MaxBackoff = 0
			return c
		}},
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
