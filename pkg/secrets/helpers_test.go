package secrets

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Every credential in these tests is generated at test time from a seeded
// generator (or built from obviously fake repeated patterns); checksums are
// computed here, independently of the code under test.

const (
	chAlnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	chHex      = "0123456789abcdef"
	chUpperDig = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	chLowerDig = "abcdefghijklmnopqrstuvwxyz0123456789"
	chLetters  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	chB64URL   = chAlnum + "_-"
	chB64      = chAlnum + "+/"
	chB32AWS   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	chDigits   = "0123456789"
)

type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

// s returns n random characters of cs.
func (g *gen) s(cs string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(cs[g.r.IntN(len(cs))])
	}
	return b.String()
}

// mixed returns n random characters of cs that contain at least one upper,
// one lower and one digit (when cs has them), as real secrets do.
func (g *gen) mixed(cs string, n int) string {
	for {
		v := g.s(cs, n)
		if strings.ContainsAny(v, "0123456789") && strings.ContainsAny(v, "abcdefghijklmnopqrstuvwxyz") &&
			(!strings.ContainsAny(cs, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") || strings.ContainsAny(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
			return v
		}
	}
}

// b62crc is the GitHub / npm token checksum, written independently of
// base62Checksum: 6 base62 digits (0-9A-Za-z) of the IEEE CRC32.
func b62crc(payload string) string {
	const alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := uint64(crc32.ChecksumIEEE([]byte(payload)))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alpha[v%62]
		v /= 62
	}
	return string(out)
}

// luhnComplete appends the Luhn check digit to a digit string.
func luhnComplete(prefix string) string {
	for c := byte('0'); c <= '9'; c++ {
		s := prefix + string(c)
		sum, dbl := 0, false
		for i := len(s) - 1; i >= 0; i-- {
			d := int(s[i] - '0')
			if dbl {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
			dbl = !dbl
		}
		if sum%10 == 0 {
			return s
		}
	}
	panic("unreachable")
}

// ibanFor computes the check digits of country+bban.
func ibanFor(country, bban string) string {
	num := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			if c >= 'A' && c <= 'Z' {
				fmt.Fprintf(&b, "%d", c-'A'+10)
			} else {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	digits := num(bban + country + "00")
	rem := 0
	for _, c := range digits {
		rem = (rem*10 + int(c-'0')) % 97
	}
	return fmt.Sprintf("%s%02d%s", country, 98-rem, bban)
}

// bech32Checksum returns the 6 checksum characters for hrp and data values.
func bech32Checksum(hrp string, data []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	var vals []byte
	for i := 0; i < len(hrp); i++ {
		vals = append(vals, hrp[i]>>5)
	}
	vals = append(vals, 0)
	for i := 0; i < len(hrp); i++ {
		vals = append(vals, hrp[i]&31)
	}
	vals = append(vals, data...)
	vals = append(vals, 0, 0, 0, 0, 0, 0)
	gen := []uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range vals {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	mod := chk ^ 1
	out := make([]byte, 6)
	for i := 0; i < 6; i++ {
		out[i] = charset[(mod>>(5*(5-i)))&31]
	}
	return string(out)
}

func mustNew(t testing.TB, o Options) *Detector {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var defaultDetector *Detector

func det(t testing.TB) *Detector {
	if defaultDetector == nil {
		defaultDetector = mustNew(t, Options{})
	}
	return defaultDetector
}

// show renders findings for failure messages.
func show(text string, fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n    %s [%d:%d] %q", f.Type, f.Start, f.End, text[f.Start:f.End])
	}
	if len(fs) == 0 {
		b.WriteString(" (none)")
	}
	return b.String()
}

// findingsOK checks the invariants every Find result must satisfy.
func findingsOK(text string, fs []Finding) error {
	bounds := map[int]bool{len(text): true}
	for i := range text {
		bounds[i] = true
	}
	prev := 0
	for i, f := range fs {
		if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
			return fmt.Errorf("finding %d out of range: %+v (len %d)", i, f, len(text))
		}
		if f.Start < prev {
			return fmt.Errorf("finding %d overlaps or is unsorted: %+v after end %d", i, f, prev)
		}
		if !bounds[f.Start] || !bounds[f.End] {
			return fmt.Errorf("finding %d not on UTF-8 boundaries: %+v", i, f)
		}
		if TypeClass(f.Type) == "" {
			return fmt.Errorf("finding %d has unknown type %q", i, f.Type)
		}
		prev = f.End
	}
	return nil
}

// redact replaces findings by [REDACTED:type], as the processor's mask action.
func redact(text string, fs []Finding) string {
	var b strings.Builder
	last := 0
	for _, f := range fs {
		b.WriteString(text[last:f.Start])
		b.WriteString("[REDACTED:" + f.Type + "]")
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String()
}

var _ = utf8.ValidString

// ibanGroups writes an IBAN in groups of four, as printed.
func ibanGroups(iban string) string {
	var parts []string
	for len(iban) > 4 {
		parts = append(parts, iban[:4])
		iban = iban[4:]
	}
	return strings.Join(append(parts, iban), " ")
}
