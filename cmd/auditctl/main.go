// Command auditctl checks what the agent audit collector archived:
//
//	auditctl verify [--trust FILE] [--json] [--allow-unsealed] [-v] ARCHIVE
//	auditctl prove --log LOG_ID (--index N | --stream S --seq N) [--trust FILE] [--out PROOF] [--record RECORD] ARCHIVE
//	auditctl verify-proof --trust FILE --record RECORD PROOF
//	auditctl keygen --out DIR [--name NAME] [--algorithm ed25519|ecdsa-p256]
//
// Exit status: 0 verified, 1 verification failed, 2 usage or I/O error.
// docs/integrity.md explains what each verdict means.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  auditctl verify [--trust FILE] [--json] [--allow-unsealed] [-v] ARCHIVE
  auditctl prove --log LOG_ID (--index N | --stream S --seq N) [--trust FILE] [--out PROOF] [--record RECORD] ARCHIVE
  auditctl verify-proof --trust FILE --record RECORD PROOF
  auditctl keygen --out DIR [--name NAME] [--algorithm ed25519|ecdsa-p256]
exit status: 0 verified, 1 verification failed, 2 usage or I/O error
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	code := exitOK
	switch args[0] {
	case "verify":
		code, err = cmdVerify(args[1:], stdout, stderr)
	case "prove":
		code, err = cmdProve(args[1:], stdout, stderr)
	case "verify-proof":
		code, err = cmdVerifyProof(args[1:], stdout, stderr)
	case "keygen":
		code, err = cmdKeygen(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	if err != nil {
		fmt.Fprintf(stderr, "auditctl %s: %v\n", args[0], err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(stderr, usage)
		}
		return exitUsage
	}
	return code
}

type usageError struct{ error }

// parseArgs parses flags that may come before or after positional
// arguments, and requires exactly want positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, want int, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != want {
		return nil, usageError{fmt.Errorf("want %d argument(s), got %d", want, len(pos))}
	}
	return pos, nil
}

func cmdVerify(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	trustPath := fs.String("trust", "", "trust file listing the keys checkpoints must be signed with")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	allowUnsealed := fs.Bool("allow-unsealed", false, "accept records after the last checkpoint (a live or crashed log)")
	verbose := fs.Bool("v", false, "list every stream, not only those with findings")
	pos, err := parseArgs(fs, args, 1, stderr)
	if err != nil {
		return exitUsage, err
	}
	v, err := loadVerifier(*trustPath, *allowUnsealed)
	if err != nil {
		return exitUsage, err
	}
	start := time.Now()
	if err := v.readDir(pos[0]); err != nil {
		return exitUsage, err
	}
	v.finish()
	r := v.report(pos[0], *trustPath)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return exitUsage, err
		}
	} else {
		r.writeText(stdout, *verbose)
		elapsed := time.Since(start)
		fmt.Fprintf(stderr, "read %.1f MB in %s (%.0f MB/s)\n", float64(r.Bytes)/1e6, elapsed.Round(time.Millisecond),
			float64(r.Bytes)/1e6/max(elapsed.Seconds(), 1e-9))
	}
	if !r.Verified {
		return exitFailed, nil
	}
	return exitOK, nil
}

func loadVerifier(trustPath string, allowUnsealed bool) (*verifier, error) {
	if trustPath == "" {
		return newVerifier(nil, allowUnsealed), nil
	}
	tf, err := loadTrust(trustPath)
	if err != nil {
		return nil, err
	}
	return newVerifier(tf, allowUnsealed), nil
}
