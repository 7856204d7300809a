package scrubprocessor

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadKey reads the HMAC key from the file or the environment variable the
// configuration names, making the file first when asked to.
func loadKey(c HMACConfig) ([]byte, error) {
	var key []byte
	switch {
	case c.KeyEnv != "":
		v, ok := os.LookupEnv(c.KeyEnv)
		if !ok {
			return nil, fmt.Errorf("hmac.key_env: environment variable %s is not set", c.KeyEnv)
		}
		key = bytes.TrimSpace([]byte(v))
		if len(key) < minKeyBytes {
			return nil, fmt.Errorf("hmac.key_env: %s holds %d bytes; the key needs at least %d (e.g. head -c 32 /dev/urandom | base64)", c.KeyEnv, len(key), minKeyBytes)
		}
	case c.KeyFile != "":
		data, err := os.ReadFile(c.KeyFile)
		if errors.Is(err, fs.ErrNotExist) && c.CreateKeyFile {
			data, err = createKeyFile(c.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("hmac.key_file: %w", err)
		}
		key = bytes.TrimSpace(data)
		if len(key) < minKeyBytes {
			return nil, fmt.Errorf("hmac.key_file: %s holds %d bytes; the key needs at least %d (e.g. head -c 32 /dev/urandom | base64 > %s)", c.KeyFile, len(key), minKeyBytes, c.KeyFile)
		}
	default:
		return nil, errors.New("hmac: no key configured (hmac.key_file or hmac.key_env)")
	}
	return key, nil
}

// createKeyFile writes 32 random bytes, base64, mode 0600. O_EXCL: two
// collectors starting at once cannot end up with different keys.
func createKeyFile(path string) ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	data := []byte(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return data, f.Close()
}
