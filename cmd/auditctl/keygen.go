package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// cmdKeygen writes a checkpoint signing key pair and adds its verifier key
// to DIR/trust.txt (created if absent), the file auditors pass to verify.
func cmdKeygen(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	dir := fs.String("out", "", "directory for NAME.key, NAME.pub and trust.txt")
	name := fs.String("name", "", "key name (default: agentaudit-<hostname>)")
	alg := fs.String("algorithm", "ed25519", "ed25519 or ecdsa-p256")
	if _, err := parseArgs(fs, args, 0, stderr); err != nil {
		return exitUsage, err
	}
	if *dir == "" {
		return exitUsage, usageError{errors.New("--out is required")}
	}
	if *name == "" {
		n, err := integrity.DefaultKeyName()
		if err != nil {
			return exitUsage, err
		}
		*name = n
	}
	key, err := integrity.GenerateKey(*alg)
	if err != nil {
		return exitUsage, usageError{err}
	}
	signer, err := integrity.NewKeySigner(*name, key)
	if err != nil {
		return exitUsage, usageError{err}
	}
	privPEM, err := integrity.MarshalPrivateKeyPEM(key)
	if err != nil {
		return exitUsage, err
	}
	pubPEM, err := integrity.MarshalPublicKeyPEM(signer.Public())
	if err != nil {
		return exitUsage, err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return exitUsage, err
	}
	keyPath := filepath.Join(*dir, *name+".key")
	// O_EXCL: never replace a key that may have signed an archive.
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return exitUsage, fmt.Errorf("%w (keygen never overwrites a key)", err)
	}
	if _, err := f.Write(privPEM); err != nil {
		f.Close()
		return exitUsage, err
	}
	if err := f.Close(); err != nil {
		return exitUsage, err
	}
	if err := os.WriteFile(filepath.Join(*dir, *name+".pub"), pubPEM, 0o644); err != nil {
		return exitUsage, err
	}
	trustPath := filepath.Join(*dir, "trust.txt")
	var trust []byte
	if _, err := os.Stat(trustPath); errors.Is(err, os.ErrNotExist) {
		trust = integrity.TrustFileText("Keys whose signatures auditctl verify accepts on checkpoints.\nOne \"key <note verifier key>\" per line.")
	}
	trust = append(trust, fmt.Sprintf("key %s\n", signer.VerifierKey())...)
	tf, err := os.OpenFile(trustPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return exitUsage, err
	}
	if _, err := tf.Write(trust); err != nil {
		tf.Close()
		return exitUsage, err
	}
	if err := tf.Close(); err != nil {
		return exitUsage, err
	}
	fmt.Fprintf(stdout, "private key: %s (keep it secret; signer extension file.private_key)\n", keyPath)
	fmt.Fprintf(stdout, "public key:  %s\n", filepath.Join(*dir, *name+".pub"))
	fmt.Fprintf(stdout, "trust file:  %s\n", trustPath)
	fmt.Fprintf(stdout, "verifier key: %s\n", signer.VerifierKey())
	return exitOK, nil
}
