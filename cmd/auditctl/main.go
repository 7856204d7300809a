// Command auditctl checks what the agent audit collector archived:
//
//	auditctl verify [--trust FILE] [--json] [--allow-unsealed] [-v] [S3 OPTIONS] ARCHIVE
//	auditctl prove --log LOG_ID (--index N | --stream S --seq N) [--trust FILE] [--out PROOF] [--record RECORD] ARCHIVE
//	auditctl verify-proof --trust FILE --record RECORD PROOF
//	auditctl keygen --out DIR [--name NAME] [--algorithm ed25519|ecdsa-p256]
//
// ARCHIVE is a directory or s3://BUCKET/PREFIX; S3 OPTIONS are --s3-endpoint,
// --s3-region, --s3-profile, --s3-ca-file and --s3-path-style, credentials
// come from the AWS SDK's standard chain, and --progress shows progress
// (the default on a terminal).
//
// Exit status: 0 verified, 1 verification failed, 2 usage or I/O error.
// docs/integrity.md explains what each verdict means.
package main

import (
	"context"
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
  auditctl verify [--trust FILE] [--json] [--allow-unsealed] [-v] [--progress] [S3 OPTIONS] ARCHIVE
  auditctl prove --log LOG_ID (--index N | --stream S --seq N) [--trust FILE] [--out PROOF] [--record RECORD] [S3 OPTIONS] ARCHIVE
  auditctl verify-proof --trust FILE --record RECORD PROOF
  auditctl keygen --out DIR [--name NAME] [--algorithm ed25519|ecdsa-p256]
ARCHIVE is a directory or s3://BUCKET[/PREFIX]. S3 OPTIONS: --s3-endpoint URL
(default $AGENTAUDIT_S3_ENDPOINT, else AWS), --s3-region R, --s3-profile P,
--s3-ca-file PEM, --s3-path-style; credentials from the AWS SDK chain
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...).
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
	src := addSourceFlags(fs)
	pos, err := parseArgs(fs, args, 1, stderr)
	if err != nil {
		return exitUsage, err
	}
	v, err := loadVerifier(*trustPath, *allowUnsealed)
	if err != nil {
		return exitUsage, err
	}
	start := time.Now()
	ctx := context.Background()
	source, err := openArchive(ctx, pos[0], src)
	if err != nil {
		return exitUsage, err
	}
	prog := newProgress(stderr, src.progress)
	err = v.readArchive(ctx, source, prog)
	// Ended on failure too, or the error is printed onto the progress line.
	prog.done()
	if err != nil {
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
