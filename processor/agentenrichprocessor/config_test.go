package agentenrichprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(t *testing.T, id string) (*Config, error) {
		t.Helper()
		cfg := createDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	cfg, err := load(t, "agentenrich")
	require.NoError(t, err)
	assert.Equal(t, &Config{
		HostIdentity: true, CollectorIdentity: true, HashFiles: true,
		ExcludedPaths: []string{"/proc", "/sys", "/dev"}, MaxFileSize: 16 << 20, HashTimeout: 2 * time.Second,
	}, cfg)

	cfg, err = load(t, "agentenrich/custom")
	require.NoError(t, err)
	assert.Equal(t, &Config{
		CollectorIdentity: true, UserFromProcess: true, HashFiles: true, HashAnyFilePath: true,
		AllowedPaths:  []string{"/home/alice/project", "/srv/work"},
		ExcludedPaths: []string{"/home/alice/project/.git"},
		MaxFileSize:   1 << 20, HashTimeout: 500 * time.Millisecond,
	}, cfg)

	for id, want := range map[string]string{
		"agentenrich/relative_allowed": `allowed_paths[0]: must be an absolute path, got "project"`,
		"agentenrich/empty_excluded":   "excluded_paths[0]: must not be empty",
		"agentenrich/zero_size":        "max_file_size: must be positive, got 0",
		"agentenrich/negative_timeout": "hash_timeout: must be positive, got -1s",
		"agentenrich/nothing":          "nothing to do",
	} {
		_, err := load(t, id)
		assert.ErrorContains(t, err, want, id)
	}
}
