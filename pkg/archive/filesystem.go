package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempDir holds partly written objects. It sits inside the archive root so
// that a finished file can be hard-linked into place (same file system).
const tempDir = ".tmp"

// FileBackend keeps the archive in a local directory. Every object is
// written to a temporary file, fsynced, made read-only and hard-linked to its
// key: link(2), unlike rename(2), fails when the target exists, so an object
// is never replaced. The directories are fsynced so the new name survives a
// crash. One collector (origin) writes to a directory at a time.
type FileBackend struct {
	root string
}

// NewFileBackend prepares root (creating it if needed) and removes
// temporary files left by a crash.
func NewFileBackend(root string) (*FileBackend, error) {
	if root == "" {
		return nil, errors.New("archive: directory is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := mkdirAllSynced(filepath.Join(abs, tempDir)); err != nil {
		return nil, fmt.Errorf("archive: cannot create %s: %w", abs, err)
	}
	// Nothing else writes there: whatever is left is from a crash.
	entries, err := os.ReadDir(filepath.Join(abs, tempDir))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(abs, tempDir, e.Name())); err != nil {
			return nil, fmt.Errorf("archive: cannot remove stale temporary file: %w", err)
		}
	}
	// Fail at start, not at the first event, when the directory is not writable.
	probe, err := os.CreateTemp(filepath.Join(abs, tempDir), "probe-*")
	if err != nil {
		return nil, fmt.Errorf("archive: directory %s is not writable: %w", abs, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &FileBackend{root: abs}, nil
}

// Root is the absolute archive directory.
func (b *FileBackend) Root() string { return b.root }

// path returns the file that holds key, refusing keys that would leave the root.
func (b *FileBackend) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("archive: invalid key %q", key)
	}
	for _, elem := range strings.Split(key, "/") {
		if elem == "" || elem == "." || elem == ".." || elem == tempDir {
			return "", fmt.Errorf("archive: invalid key %q", key)
		}
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

func (b *FileBackend) Put(_ context.Context, key string, data []byte) (bool, error) {
	path, err := b.path(key)
	if err != nil {
		return false, err
	}
	dir := filepath.Dir(path)
	if err := mkdirAllSynced(dir); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Join(b.root, tempDir), "obj-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return false, err
		}
		existing, rerr := os.ReadFile(path)
		if rerr != nil {
			return false, rerr
		}
		if !sameSegment(key, existing, data) {
			return true, fmt.Errorf("%w: %s", ErrConflict, key)
		}
		return true, nil
	}
	return false, syncDir(dir)
}

// mkdirAllSynced creates dir and its missing parents, fsyncing the parent of
// each directory it creates so the new entries survive a crash.
func mkdirAllSynced(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSynced(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
