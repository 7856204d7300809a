package archive

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Reader reads an archive back, the verifier's side.
type Reader interface {
	// Walk calls fn with every segment object in key order, stopping at
	// the first error fn or reading returns.
	Walk(ctx context.Context, fn func(Object) error) error
	// Get returns the uncompressed lines of one object.
	Get(ctx context.Context, key string) ([]byte, error)
	// String names the archive in messages: a directory or s3://bucket/prefix.
	String() string
}

// Object is one segment object as read back.
type Object struct {
	Key  string // relative to the archive root or bucket prefix
	Data []byte // the uncompressed lines
	// Corrupt is set when the object was read but does not decompress: a
	// finding about the archive, not a failure to read it.
	Corrupt error
	// Findings are what the store says about the object beyond its bytes:
	// in a versioned bucket, a delete marker hiding it or later versions
	// with other content. The object's first version is the one read.
	Findings []string
}

// DirReader reads an archive in a local directory (written by FileBackend,
// or a bucket copied down with `aws s3 sync`).
type DirReader struct {
	root string
}

// OpenDir opens a local archive for reading; it never writes.
func OpenDir(dir string) (*DirReader, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return &DirReader{root: dir}, nil
}

func (r *DirReader) String() string { return r.root }

func (r *DirReader) Walk(ctx context.Context, fn func(Object) error) error {
	var keys []string
	err := filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == tempDir {
			return filepath.SkipDir
		}
		if !d.IsDir() && IsSegmentKey(d.Name()) {
			rel, err := filepath.Rel(r.root, path)
			if err != nil {
				return err
			}
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		body, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(k)))
		if err != nil {
			return err
		}
		data, corrupt := DecodeObject(k, body)
		if err := fn(Object{Key: k, Data: data, Corrupt: corrupt}); err != nil {
			return err
		}
	}
	return nil
}

func (r *DirReader) Get(_ context.Context, key string) ([]byte, error) {
	body, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(key)))
	if err != nil {
		return nil, err
	}
	return DecodeObject(key, body)
}
