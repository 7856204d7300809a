package agentnormalizeprocessor

import (
	"path/filepath"
	"testing"

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
		cfg := defaultConfig()
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	cfg, err := load(t, "agentnormalize")
	require.NoError(t, err)
	assert.Equal(t, &Config{KeepOriginal: KeepPrefix, OriginalPrefix: "agent_audit.source.", Sources: []string{"claude_code", "codex"}}, cfg)

	cfg, err = load(t, "agentnormalize/drop")
	require.NoError(t, err)
	assert.Equal(t, KeepDrop, cfg.KeepOriginal)
	assert.Equal(t, []string{"codex"}, cfg.Sources)

	for id, want := range map[string]string{
		"agentnormalize/bad_keep":     `keep_original: must be prefix or drop, got "copy"`,
		"agentnormalize/no_dot":       `original_prefix: must end with a dot, got "orig"`,
		"agentnormalize/audit_prefix": `original_prefix: "audit.src." is reserved for integrity attributes`,
		"agentnormalize/no_sources":   "sources: list at least one of claude_code, codex",
		"agentnormalize/bad_source":   `sources[1]: unknown source "cursor" (known: claude_code, codex)`,
		"agentnormalize/dup_source":   `sources[1]: "codex" listed twice`,
	} {
		_, err := load(t, id)
		assert.ErrorContains(t, err, want, id)
	}
}
